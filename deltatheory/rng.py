"""Independent random streams, addressed by a path under the user's seed.

Every random number in the toolkit comes from a stream named by ``(seed, *path)``: a check's
sub-run, a simulation trial, a bootstrap. Streams are children of ``SeedSequence(seed)`` in the
sense of :meth:`numpy.random.SeedSequence.spawn` (``spawn_key=path``), so

* different paths give statistically independent streams (no overlap from ``seed + 1``);
* a trial's numbers depend only on (seed, its path), not on how many trials run or in what
  chunks they are processed.

>>> a = generator(0, 3).standard_normal(2)
>>> b = np.random.SeedSequence(0).spawn(4)[3]
>>> bool(np.all(a == np.random.default_rng(b).standard_normal(2)))
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["seed_sequence", "generator", "seed_for"]


def _check(seed) -> int:
    s = int(seed)
    if s < 0 or s != seed:
        from .errors import DeltaTheoryError

        raise DeltaTheoryError(f"seed={seed!r} must be a non-negative whole number")
    return s


def seed_sequence(seed: int, *path: int) -> np.random.SeedSequence:
    """The stream at ``path`` under ``seed``: ``SeedSequence(seed).spawn(…)[path]`` recursively."""
    return np.random.SeedSequence(_check(seed), spawn_key=tuple(int(p) for p in path))


def generator(seed: int, *path: int) -> np.random.Generator:
    """A numpy Generator on the stream at ``path`` under ``seed``."""
    return np.random.default_rng(seed_sequence(seed, *path))


def seed_for(seed: int, *path: int) -> int:
    """A 32-bit integer seed for the stream at ``path`` (for APIs that take an int, e.g. JAX).

    >>> seed_for(0, 1) != seed_for(0, 2) and seed_for(0, 1) == seed_for(0, 1)
    True
    """
    return int(seed_sequence(seed, *path).generate_state(1, np.uint32)[0])
