"""Input checks shared by the public functions and the CLI (one-line messages)."""

from __future__ import annotations

import math

import numpy as np

from .errors import DeltaTheoryError


def finite(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise DeltaTheoryError(f"{name}={_show(value)} is not a finite number")
    return arr


def accuracy(name: str, value) -> np.ndarray:
    arr = finite(name, value)
    if np.any((arr <= 0.5) | (arr >= 1.0)):
        raise DeltaTheoryError(
            f"{name}={_show(value)} is outside (0.5, 1): accuracies are fractions strictly "
            "between chance and perfect"
        )
    return arr


def overlap(name: str, value) -> np.ndarray:
    arr = finite(name, value)
    if np.any((arr < -1.0) | (arr > 1.0)):
        raise DeltaTheoryError(f"{name}={_show(value)} is outside [-1, 1]: overlaps are cosines")
    return arr


def positive(name: str, value, *, integer: bool = False):
    arr = finite(name, value)
    if np.any(arr <= 0):
        raise DeltaTheoryError(f"{name}={_show(value)} must be positive")
    if integer:
        if np.any(arr != np.round(arr)):
            raise DeltaTheoryError(f"{name}={_show(value)} must be a whole number")
        return int(arr) if arr.ndim == 0 else arr.astype(np.int64)
    return float(arr) if arr.ndim == 0 else arr


def dimension(value) -> int:
    d = finite("dim", value)
    if d.ndim != 0 or d != math.floor(d) or d < 3:
        raise DeltaTheoryError(f"dim={_show(value)} must be a whole number >= 3")
    return int(d)


def probability(name: str, value) -> float:
    q = finite(name, value)
    if q.ndim != 0 or not 0.0 < q < 1.0:
        raise DeltaTheoryError(f"{name}={_show(value)} must be strictly between 0 and 1")
    return float(q)


def chosen_above_rejected(chosen, rejected) -> None:
    if np.any(np.asarray(chosen) <= np.asarray(rejected)):
        raise DeltaTheoryError(
            f"chosen accuracy {_show(chosen)} is not above rejected accuracy {_show(rejected)}: "
            "the theory needs the chosen teacher to be the better one"
        )


def _show(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(value.item() if hasattr(value, "item") else value)
    return np.array2string(arr, threshold=6)
