"""Corollary 6.2: how likely Condition C1 is for random error directions in dimension d.

Fix α₀, α_c, α_r and draw u₀, u_c, u_r independently and uniformly on the unit sphere of θ*^⊥
(dimension n = d − 1). C1 (κ > 0) reads ⟨u₀, w⟩ < t₀ with w = s_c u_c − s_r u_r,
s_i = √(1 − α_i²) and t₀ = (α_c − α_r) s₀ / α₀. By rotation invariance ⟨u₀, w⟩ = ‖w‖·T where T, one
coordinate of a uniform unit vector, is independent of w and distributed as 2·Beta(m, m) − 1 with
m = (d − 2)/2; ρ = ⟨u_c, u_r⟩ has the same law, and ‖w‖² = s_c² + s_r² − 2 s_c s_r ρ. Hence

    P[C1] = E_ρ[ F_T(t₀ / ‖w(ρ)‖) ],

a one-dimensional integral computed here by adaptive quadrature over the quantile of ρ (exact up
to quadrature error ≤ 1e-10). The Gaussian approximation replaces T by N(0, 1/(d−1)) and ‖w‖² by
its mean: P[C1] ≈ Φ(t₀ √(d−1) / √(2 − α_c² − α_r²)).

P[C1] tends to 1 as d grows when α_c > α_r, but not monotonically at the smallest d: at d = 3
the overlaps have arcsine laws, heavy near ±1, and P[C1] can be higher there than at d = 4
(80/65/60: 0.5588 at d = 3, 0.5551 at d = 4). :func:`min_dimension` allows for that.

References: Geng et al. 2025, §6, Corollary 6.2.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, special, stats

from . import _validate as V
from .errors import DeltaTheoryError
from .geometry import Geometry, random_overlaps

__all__ = ["p_c1_exact", "p_c1_gaussian", "p_c1_monte_carlo", "min_dimension"]


def _terms(student, chosen, rejected):
    g = Geometry(student, chosen, rejected)
    a0, ac, ar = g.alphas
    s0, sc, sr = (np.sqrt(1 - x**2) for x in (a0, ac, ar))
    return (ac - ar) * s0 / a0, sc, sr


_TOL = 1e-10  # absolute quadrature error of P[C1] (the pieces' tolerances sum to it)


def _p_c1_scalar(t0: float, sc: float, sr: float, dim: int) -> float:
    m = (dim - 2) / 2.0
    # ‖w‖² = s_c² + s_r² − 2 s_c s_r ρ, written without cancellation near ρ = ±1 in terms of
    # δ = 1 − ρ (upper half) or ε = 1 + ρ (lower half), both 2·Q with Q a Beta(m, m) quantile.
    d2, s2, p2 = (sc - sr) ** 2, (sc + sr) ** 2, 2.0 * sc * sr

    def cdf_t(w2):  # P[T ≤ t₀/‖w‖], T = 2B − 1 with B ~ Beta(m, m)
        if w2 <= 0.0:
            return 1.0 if t0 > 0 else (0.5 if t0 == 0 else 0.0)
        t = t0 / np.sqrt(w2)
        if t >= 0:
            return 1.0 - float(special.betainc(m, m, max((1.0 - t) / 2.0, 0.0)))
        return float(special.betainc(m, m, max((1.0 + t) / 2.0, 0.0)))

    def upper(v):  # ρ = 1 − 2Q(v) ≥ 0
        return cdf_t(d2 + p2 * 2.0 * special.betaincinv(m, m, v))

    def lower(u):  # ρ = 2Q(u) − 1 ≤ 0
        return cdf_t(s2 - p2 * 2.0 * special.betaincinv(m, m, u))

    def quantile(w2):  # (in the lower half?, the quantile u or v) of the ρ where ‖w‖² = w2
        delta = (w2 - d2) / p2  # 1 − ρ
        if delta <= 1.0:
            return False, float(special.betainc(m, m, delta / 2.0))
        return True, float(special.betainc(m, m, max((s2 - w2) / p2, 0.0) / 2.0))

    # Integrate over the quantile of ρ, the lower half ρ ≤ 0 as ρ = 2Q(u) − 1 and the upper half
    # as ρ = 1 − 2Q(v), v = 1 − u (Beta(m, m) is symmetric), so ρ near ±1 keeps full precision.
    # Where ‖w(ρ)‖ ≤ |t₀| (ρ ≥ ρ_k) the integrand is exactly 1 (t₀ > 0) or 0 (t₀ < 0): that
    # tail is added exactly, so quad never meets the kink at ρ_k.
    spans = {True: [0.0, 0.5], False: [0.0, 0.5]}
    tail = 0.0
    if t0 != 0 and t0**2 > d2:  # the kink lies inside (−1, 1]
        if t0**2 >= s2:
            spans, tail = {}, 1.0
        else:
            in_lower, q = quantile(t0**2)
            if in_lower:
                spans, tail = {True: [0.0, q]}, 1.0 - q
            else:
                spans[False], tail = [q, 0.5], q
    # Break points at the integrand's features, so that no piece hides a feature far smaller
    # than itself (weak, near-tied teachers put them within 1e-10 of an end, where quad used to
    # stall on round-off): (a) where ‖w‖ doubles from max(|t₀|, ‖w(ρ=1)‖), the scale on which
    # t₀/‖w‖ changes near ρ = 1 and the kink; (b) every decade of the quantile down to 1e-16,
    # as ρ ↦ quantile is a power law (exponent m) near ρ = ±1, spreading one feature in ρ over
    # many decades. Below 1e-16 a piece weighs at most 1e-16 and gets a one-point rule.
    cuts = [(lo, 10.0**-k) for k in range(1, 17) for lo in (True, False)]
    if t0 != 0:
        w = max(abs(t0), abs(sc - sr))
        while (w := 2.0 * w) < sc + sr:
            cuts.append(quantile(w * w))
    val = 0.0
    for in_lower, (a, b) in spans.items():
        f = lower if in_lower else upper
        pts = sorted({a, b, *(q for lo, q in cuts if lo == in_lower and a < q < b)})
        for x0, x1 in zip(pts[:-1], pts[1:], strict=True):
            if x1 <= 1e-16:
                val += (x1 - x0) * f((x0 + x1) / 2)
            else:
                val += integrate.quad(f, x0, x1, epsabs=max(_TOL * (x1 - x0), 1e-17),
                                      epsrel=1e-12, limit=200)[0]
    if t0 > 0:
        val += tail
    return float(np.clip(val, 0.0, 1.0))


def p_c1_exact(student, chosen, rejected, dim):
    """Exact P[C1] under Corollary 6.2's random model (vectorised over all arguments).

    Accurate to 1e-10 (absolute) for any accuracies and d. For α_c > α_r it tends to 1 as d
    grows, but is not monotone in d everywhere: it can fall from d = 3 to d = 4 (see the module
    docstring and :func:`min_dimension`).

    Args:
      student, chosen, rejected: accuracies in (0.5, 1).
      dim: the dimension d ≥ 3 (whole numbers).

    Returns:
      P[κ > 0], broadcast shape of the arguments.

    >>> round(float(p_c1_exact(0.8, 0.7, 0.6, 64)), 3)
    0.9
    """
    t0, sc, sr = _terms(student, chosen, rejected)
    dim = np.asarray(dim)
    for d in np.unique(dim):
        V.dimension(d)
    fn = np.vectorize(lambda t, c, r, d: _p_c1_scalar(float(t), float(c), float(r), int(d)),
                      otypes=[float])
    out = fn(t0, sc, sr, dim)
    return out if out.ndim else float(out)


def p_c1_gaussian(student, chosen, rejected, dim):
    """Gaussian approximation Φ(t₀ √(d−1) / √(2 − α_c² − α_r²)) of P[C1].

    >>> round(float(p_c1_gaussian(0.8, 0.7, 0.6, 64)), 3)
    0.901
    """
    t0, sc, sr = _terms(student, chosen, rejected)
    d = np.asarray(dim, dtype=float)
    return stats.norm.cdf(t0 * np.sqrt(d - 1.0) / np.sqrt(sc**2 + sr**2))


def p_c1_monte_carlo(student, chosen, rejected, dim, samples, rng):
    """Monte Carlo estimate of P[C1] and its standard error, from exact random overlaps.

    Returns:
      (estimate, standard error).
    """
    samples = V.positive("samples", samples, integer=True)
    ov = random_overlaps(dim, samples, rng)
    from .closed_forms import kappa

    k = kappa(Geometry(student, chosen, rejected, ov[:, 0], ov[:, 1], ov[:, 2]))
    p = float(np.mean(k > 0))
    return p, float(np.sqrt(p * (1 - p) / samples))


# P[C1] is not monotone in d at the smallest d. Measured (exact values, tests/test_corollary.py
# checks a grid): over 2312 triples (accuracies 0.5001 … 0.9999, all with α_c > α_r) and every
# d = 3 … 80, P[C1] fell only from d = 3 to d = 4 (213 triples, by up to 0.0063); random triples
# (teachers near-tied or near chance) with d up to 1e5 showed no fall from any d ≥ 4. The
# minimum is therefore found by trying every d up to _SCAN_TO (8 times the last d where a fall
# was seen, for ~30 cheap evaluations), and by doubling and bisection beyond, where P[C1] rises.
_SCAN_TO = 32


def min_dimension(student, chosen, rejected, quantile: float, max_dim: int = 10**9) -> int:
    """Smallest d ≥ 3 with exact P[C1] ≥ ``quantile``, searched up to ``max_dim``.

    P[C1] → 1 as d grows when α_c > α_r, but it can dip at small d (from d = 3 to d = 4), so
    every d up to 32 is tried in turn; beyond, where P[C1] increases with d, a doubling search
    and bisection find the smallest d.

    >>> min_dimension(0.8, 0.7, 0.6, 0.9)
    64
    """
    V.accuracy("student accuracy", student)
    V.accuracy("chosen accuracy", chosen)
    V.accuracy("rejected accuracy", rejected)
    V.chosen_above_rejected(chosen, rejected)
    q = V.probability("quantile", quantile)
    max_dim = V.dimension(max_dim)
    t0, sc, sr = (float(x) for x in _terms(student, chosen, rejected))

    def p(d):
        return _p_c1_scalar(t0, sc, sr, int(d))

    for d in range(3, min(_SCAN_TO, max_dim) + 1):
        if p(d) >= q:
            return d
    lo = hi = _SCAN_TO  # P(lo) < q, and P rises with d from here on
    while True:
        if hi >= max_dim:
            raise DeltaTheoryError(
                f"quantile={q} is not reached up to dim={max_dim}: P[C1] tends to 1 too slowly "
                "for this triple")
        lo, hi = hi, min(2 * hi, max_dim)
        if p(hi) >= q:
            break
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if p(mid) >= q:
            hi = mid
        else:
            lo = mid
    return hi
