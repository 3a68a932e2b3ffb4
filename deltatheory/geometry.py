"""Geometry of the logistic-regression model: accuracy <-> cosine, and the four unit vectors.

Every model is a direction. A unit vector splits as ``θ̂ = α θ* + √(1−α²) u`` with ``u ⟂ θ*`` its
error direction; under isotropic Gaussian inputs its accuracy is ``1 − arccos(α)/π``. The four
vectors of the theory — truth θ*, student θ₀, chosen teacher θ_c, rejected teacher θ_r — are fixed
up to rotation by their cosines to θ* and the overlaps ⟨u₀,u_c⟩, ⟨u₀,u_r⟩, ⟨u_c,u_r⟩.

References: Geng et al. 2025, §6 ("Delta Learning in Logistic Regression, Provably").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as V
from .errors import DeltaTheoryError

__all__ = [
    "Geometry",
    "accuracy_to_alignment",
    "alignment_to_accuracy",
    "gram_matrix",
    "random_overlaps",
    "vectors",
]

_PSD_TOL = 1e-10


def accuracy_to_alignment(acc):
    """Cosine to θ* of a linear classifier with the given accuracy on Gaussian inputs.

    ``α = cos(π (1 − acc))``, the inverse of :func:`alignment_to_accuracy`.

    Args:
      acc: accuracy in [0, 1], any shape.

    Returns:
      α with the shape of ``acc``.

    >>> float(np.round(accuracy_to_alignment(0.8), 6))
    0.809017
    """
    return np.cos(np.pi * (1.0 - np.asarray(acc, dtype=float)))


def alignment_to_accuracy(alpha):
    """Accuracy ``1 − arccos(α)/π`` of a classifier whose cosine to θ* is ``alpha``.

    >>> float(alignment_to_accuracy(0.0))
    0.5
    """
    alpha = np.clip(np.asarray(alpha, dtype=float), -1.0, 1.0)
    return 1.0 - np.arccos(alpha) / np.pi


@dataclass(frozen=True)
class Geometry:
    """Accuracies of student, chosen and rejected teacher, and their error-direction overlaps.

    Fields broadcast like numpy arrays. ``overlap_chosen`` is ⟨u₀,u_c⟩, ``overlap_rejected`` is
    ⟨u₀,u_r⟩ and ``overlap_teachers`` is ⟨u_c,u_r⟩ (all 0 by default: mutually orthogonal error
    directions, the high-dimensional typical case).
    """

    student: float | np.ndarray
    chosen: float | np.ndarray
    rejected: float | np.ndarray
    overlap_chosen: float | np.ndarray = 0.0
    overlap_rejected: float | np.ndarray = 0.0
    overlap_teachers: float | np.ndarray = 0.0

    def __post_init__(self):
        for name in ("student", "chosen", "rejected"):
            V.accuracy(f"{name} accuracy", getattr(self, name))
        for name in ("overlap_chosen", "overlap_rejected", "overlap_teachers"):
            V.overlap(name.replace("_", "-"), getattr(self, name))
        lam_min = np.linalg.eigvalsh(_overlap_gram(self)).min(axis=-1)
        if np.any(lam_min < -_PSD_TOL):
            raise DeltaTheoryError(
                "overlaps (chosen={}, rejected={}, teachers={}) are impossible: the matrix of "
                "error-direction cosines must be positive semi-definite".format(
                    *(V._show(getattr(self, n)) for n in
                      ("overlap_chosen", "overlap_rejected", "overlap_teachers"))
                )
            )

    @property
    def alphas(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cosines (α₀, α_c, α_r) to θ*."""
        return tuple(accuracy_to_alignment(a) for a in (self.student, self.chosen, self.rejected))

    def reversed(self) -> Geometry:
        """The reversed control: chosen and rejected swapped."""
        return Geometry(self.student, self.rejected, self.chosen, self.overlap_rejected,
                        self.overlap_chosen, self.overlap_teachers)

    def rank(self) -> int:
        """Largest rank of the error-direction Gram matrix over the broadcast fields."""
        lam = np.linalg.eigvalsh(_overlap_gram(self))
        return int((lam > 1e-9).sum(axis=-1).max())


def _overlap_gram(g: Geometry) -> np.ndarray:
    r0c, r0r, rcr = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                          (g.overlap_chosen, g.overlap_rejected,
                                           g.overlap_teachers)))
    one = np.ones_like(r0c)
    return np.stack([np.stack([one, r0c, r0r], -1),
                     np.stack([r0c, one, rcr], -1),
                     np.stack([r0r, rcr, one], -1)], -2)


def _alpha_stack(g: Geometry) -> np.ndarray:
    """(α₀, α_c, α_r) stacked on a last axis, broadcast against the overlaps too."""
    fields = np.broadcast_arrays(*g.alphas, *(np.asarray(x, dtype=float) for x in (
        g.overlap_chosen, g.overlap_rejected, g.overlap_teachers)))
    return np.stack(fields[:3], -1)


def gram_matrix(g: Geometry) -> np.ndarray:
    """Gram matrix of the unit vectors (θ*, θ₀, θ_c, θ_r), shape ``(..., 4, 4)``.

    ``G[0, i] = α_i`` and ``G[i, j] = α_i α_j + √(1−α_i²)√(1−α_j²) ⟨u_i, u_j⟩``.

    >>> np.round(gram_matrix(Geometry(0.8, 0.7, 0.6))[0], 3)
    array([1.   , 0.809, 0.588, 0.309])
    """
    a = _alpha_stack(g)                                        # (..., 3)
    s = np.sqrt(1.0 - a**2)
    ug = np.broadcast_to(_overlap_gram(g), a.shape[:-1] + (3, 3))
    inner = a[..., :, None] * a[..., None, :] + s[..., :, None] * s[..., None, :] * ug
    out = np.empty(a.shape[:-1] + (4, 4))
    out[..., 0, 0] = 1.0
    out[..., 0, 1:] = a
    out[..., 1:, 0] = a
    out[..., 1:, 1:] = inner
    return out


def vectors(g: Geometry, dim: int) -> np.ndarray:
    """Explicit unit vectors (θ*, θ₀, θ_c, θ_r) in R^dim with θ* = e₁, shape ``(..., 4, dim)``.

    Error directions live in coordinates 2..4. Raises :class:`DeltaTheoryError` when ``dim`` is
    too small for the overlaps (their Gram matrix has rank above ``dim − 1``).

    >>> v = vectors(Geometry(0.8, 0.7, 0.6), 5)
    >>> np.allclose(v @ v.T, gram_matrix(Geometry(0.8, 0.7, 0.6)))
    True
    """
    dim = V.dimension(dim)
    if g.rank() > dim - 1:
        raise DeltaTheoryError(
            f"dim={dim} is too small for these overlaps: their error directions span "
            f"{g.rank()} dimensions, so dim must be at least {g.rank() + 1}"
        )
    ug = _overlap_gram(g)
    lam, q = np.linalg.eigh(ug)                                # ascending
    lam, q = lam[..., ::-1], q[..., :, ::-1]
    coords = q * np.sqrt(np.clip(lam, 0.0, None))[..., None, :]  # (..., 3, 3): rows are u_i
    k = min(3, dim - 1)
    a = _alpha_stack(g)
    s = np.sqrt(1.0 - a**2)
    coords = np.broadcast_to(coords, a.shape[:-1] + (3, 3))[..., :k]
    out = np.zeros(a.shape[:-1] + (4, dim))
    out[..., 0, 0] = 1.0
    out[..., 1:, 0] = a
    out[..., 1:, 1:1 + k] = s[..., :, None] * coords
    return out


def random_overlaps(dim: int, size, rng: np.random.Generator) -> np.ndarray:
    """Overlaps of three independent uniform error directions on the sphere of θ*^⊥.

    Exact for any ``dim``: the cosines between three i.i.d. uniform unit vectors in R^(dim−1) are
    the correlations of a Wishart matrix with dim − 1 degrees of freedom, sampled by Bartlett's
    decomposition in O(1) work whatever ``dim`` is.

    Args:
      dim: ambient dimension d (error directions live in dimension d − 1).
      size: number of draws (int) or a shape.
      rng: a numpy Generator (explicit randomness).

    Returns:
      Array ``(*size, 3)`` of (⟨u₀,u_c⟩, ⟨u₀,u_r⟩, ⟨u_c,u_r⟩).
    """
    dim = V.dimension(dim)
    n = dim - 1
    shape = (size,) if np.isscalar(size) else tuple(size)
    if n < 3:  # explicit vectors: Bartlett needs n >= 3 for a full-rank factor
        u = rng.standard_normal(shape + (3, n))
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        w = u @ np.swapaxes(u, -1, -2)
    else:
        lower = np.zeros(shape + (3, 3))
        for i in range(3):
            lower[..., i, i] = np.sqrt(rng.chisquare(n - i, size=shape))
            for j in range(i):
                lower[..., i, j] = rng.standard_normal(shape)
        w = lower @ np.swapaxes(lower, -1, -2)
        d = np.sqrt(np.diagonal(w, axis1=-2, axis2=-1))
        w = w / (d[..., :, None] * d[..., None, :])
    return np.stack([w[..., 0, 1], w[..., 0, 2], w[..., 1, 2]], -1)
