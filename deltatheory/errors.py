"""The one exception type the toolkit raises for bad input."""


class DeltaTheoryError(ValueError):
    """Bad input: the message names the value and what is allowed (one line)."""
