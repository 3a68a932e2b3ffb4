"""llm: the delta-learning recipe on real language models, offline — models, tasks, generation,
pairs, DPO-family training, an SFT baseline, evaluation and experiments.

Thin on top of TRL and transformers (the ``llm`` extra). Importing this package is cheap; the heavy
libraries load on first use, and a missing extra is reported as one clear line.
"""

from __future__ import annotations

__all__ = ["require_extra"]


def require_extra() -> None:
    """Raise a one-line DeltaTheoryError when the ``llm`` extra is not installed."""
    import importlib.util

    from deltatheory.errors import DeltaTheoryError

    missing = [m for m in ("torch", "transformers", "trl", "datasets", "peft", "yaml")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise DeltaTheoryError(
            f"the llm extra is not installed (missing: {', '.join(missing)}); on a CPU machine run "
            "pip install torch==2.13.0 && pip install -e \".[llm]\"")
