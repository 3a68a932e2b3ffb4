"""The one exception type the toolkit raises for bad input."""


class DeltaTheoryError(ValueError):
    """Bad input: the message names the value and what is allowed (one line)."""


class BadData(DeltaTheoryError):
    """Input that is well formed but unusable, found only once work has started (a filter
    that leaves no pairs, weights that are all zero): a run discards the arm it was building
    (:class:`deltatheory.llm.runs.Run`), unlike a missing file or a full disk, which keep what
    a resume can reuse."""
