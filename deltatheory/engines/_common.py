"""Pieces shared by the engines: recording steps, labels, and chunking of trials."""

from __future__ import annotations

import numpy as np


def record_steps(steps: int, records: int | None = None) -> np.ndarray:
    """Sorted unique step indices 0 = t₀ < … < t_R = steps at which accuracy is recorded."""
    if records is None:
        records = min(steps, 50)
    records = min(records, steps)  # more would round to the same steps: every one of them
    r = np.unique(np.round(np.linspace(0, steps, records + 1)).astype(np.int64))
    return r


def signs(z, xp=np):
    """Hard labels sign(z) ∈ {−1, +1} (ties, of probability zero, go to +1)."""
    return xp.where(z >= 0, 1.0, -1.0)


def trial_chunk(trials: int, per_trial_floats: int, budget_floats: int = 1 << 22) -> int:
    """Number of trials processed at once so that a chunk holds at most ``budget_floats``."""
    return int(max(1, min(trials, budget_floats // max(per_trial_floats, 1))))
