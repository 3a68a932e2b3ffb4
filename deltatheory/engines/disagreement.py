"""The inputs a pair loss can see: the exact law of an input given that the two teachers disagree.

Every pair loss (``pref``, ``dpo``, ``ipo``) has derivative ``dloss/ds`` proportional to the
margin sign m = (y_c − y_r)/2 (:mod:`deltatheory.losses`): an input on which the teachers give the
same label (m = 0) moves nothing. With y_c = sign⟨θ_c, x⟩ and y_r = sign⟨θ_r, x⟩ the teachers
disagree with probability q = φ/π, φ = ∠(θ_c, θ_r). A batch of B inputs therefore moves the
student exactly as its N ~ Binomial(B, q) disagreeing inputs do, and these are i.i.d. from the
conditional law below, independent of N. Drawing only them is exact, and costs a fraction q of
the inputs.

**The conditional law.** Take an orthonormal basis (e₁, e₂, …) with e₁ = θ̂_c and
θ̂_r = cos φ e₁ + sin φ e₂ (:func:`plane_coordinates`), and write an input x ~ N(0, I_d) as
x = ρ (cos ψ e₁ + sin ψ e₂) + y with y ⟂ span(e₁, e₂). Then ψ is uniform on the circle,
ρ² ~ χ²₂ (= 2·Exp(1)) and y ~ N(0, I_{d−2}), all independent. The labels depend on ψ only:
y_c = sign cos ψ and y_r = sign cos(ψ − φ), so the teachers disagree exactly on two opposite arcs
of width φ,

    ψ ∈ [−π/2, φ − π/2):   y_c = +1, y_r = −1, m = +1,
    ψ ∈ [π/2, φ + π/2):    y_c = −1, y_r = +1, m = −1,

and, given disagreement, ψ is uniform on these arcs while ρ and y keep their laws and their
independence. With U uniform on [0, 1) and a fair sign σ = ±1:

    ψ = φU − π/2,   x = σ ρ (cos ψ e₁ + sin ψ e₂) + y,   m = σ.                   (1)

The margin sign is the arc drawn, never the sign of a rounded dot product, so a drawn input
always carries m = ±1.

**What a pair loss sees of y.** A pair loss depends on θ only through the margin
h = m⟨θ − θ_ref, x⟩ (``pref`` not at all), i.e. through ⟨Δ, x⟩ with Δ = θ − θ₀. Split
Δ = Δ_∥ + Δ_⊥ (in and out of span(e₁, e₂)) and let u = Δ_⊥/‖Δ_⊥‖: ⟨Δ, x⟩ = ⟨Δ_∥, a⟩ + ‖Δ_⊥‖ η
with a the in-plane part of (1) and η = ⟨u, y⟩ ~ N(0, 1). The rest of y, y − η u, is
N(0, I − uuᵀ) and independent of everything the loss sees; so, given the derivatives c_i,
Σ c_i (y_i − η_i u) ~ N(0, (Σ c_i²)(I − uuᵀ)). An input is therefore drawn as the three numbers
(a, η) (:func:`wedge_inputs`, :func:`normal_pair`), and its remaining coordinates are summed per
step in distribution, exactly as the ``reduced`` engine already sums the part outside its
4-dimensional space. ``pref``'s derivative is −m whatever x is, so for it η too is summed in
distribution (Σ c_i η_i ~ N(0, N)) and an input is the two numbers a.

**Which (loss, control) take this path** (:func:`label_sign`): the pair losses under a control
whose labels keep "m ≠ 0 exactly where the teachers disagree", with m = ±σ: ``none`` (m = σ) and
``reversed`` (chosen and rejected swapped: m = −σ). ``tied`` sets y_r := y_c, so m = 0 on every
input and the student never moves: it runs with q = 0 (no input is drawn). The SFT losses see
every input (their derivative −y σ(−y s) is never zero), and so would a control that changed
which inputs carry m ≠ 0 (random labels, say): those, and any control not listed here, draw
every input.

**Random numbers.** Counter-based: the pair of words j of trial i at step t is a Threefry-2x32
hash of the counter (i, j) under the step's key (``fold_in(root, t)``), so it depends on
(seed, i, t, j) only, never on how trials are chunked or how many run. Input l uses the counters
2l (σ, U; ρ) and 2l + 1 (η by Box-Muller), all below 2³¹; the per-step draws (count, χ²,
Gaussian remainder) use counters from 2³¹ on. The count N is drawn by inverting the binomial
CDF in 64-bit fixed point (:func:`binomial_table`, :func:`count`; exact to the float64 CDF) for
B ≤ ``TABLE_MAX_BATCH``, else by ``jax.random.binomial``; χ²_k by Marsaglia-Tsang rejection
(:func:`chi2`), with its acceptance test written to be stable in float32 for any k. sin and cos
of angles in [−π/2, π/2] are polynomials (float32-accurate; XLA's general sin/cos on CPU cost
more than the rest of an input). Uniforms have 23 bits and normals are as fine-grained as
``jax.random``'s, so the float32 resolution is that of the ``all`` path.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import threefry2x32_p

__all__ = ["PAIR_LOSSES", "CONTROL_SIGN", "TABLE_MAX_BATCH", "label_sign", "plane_coordinates",
           "words", "uniform", "normal", "normal_pair", "sincos", "wedge_inputs", "binomial_table",
           "count", "chi2"]

PAIR_LOSSES = ("pref", "dpo", "ipo")
"""Losses whose derivative is m·f(m⟨θ − θ_ref, x⟩): zero where the teachers agree."""

CONTROL_SIGN = {"none": 1.0, "reversed": -1.0, "tied": 0.0}
"""m = sign·σ on a drawn input of arc σ (0: no input carries a gradient). A control of
:data:`deltatheory.losses.CONTROLS` missing here draws every input until it is classified."""


TABLE_MAX_BATCH = 1024
"""Largest batch whose counts come from a CDF table (beyond: ``jax.random.binomial``)."""

STEP_WORDS = np.uint32(1 << 31)
"""First counter of the per-step words (inputs use counters below it)."""


def label_sign(loss: str, control: str) -> float | None:
    """The sign s with m = s·σ on a disagreeing input, or None where every input must be drawn.

    >>> label_sign("dpo", "reversed"), label_sign("sft-chosen", "none")
    (-1.0, None)
    """
    if loss not in PAIR_LOSSES:
        return None
    return CONTROL_SIGN.get(control)


def plane_coordinates(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (θ*, θ₀, θ_c, θ_r) in a basis with e₁ = θ̂_c and θ̂_r in span(e₁, e₂), and φ.

    Args:
      coords: the rows in any orthonormal basis of R^w (w ≥ 2), shape ``(..., 4, w)``.

    Returns:
      ``(rows, phi)``: the rows in the new basis (θ_c = e₁, θ_r = cos φ e₁ + sin φ e₂ up to
      rounding) and φ = ∠(θ_c, θ_r) ∈ [0, π], shape ``(...)``. Parallel or opposite teachers
      get some e₂ ⟂ e₁: a rotation leaves N(0, I) unchanged, so any choice is exact.

    >>> rows, phi = plane_coordinates(np.eye(4))
    >>> np.round(np.abs(rows[2:]), 12).tolist(), float(phi / np.pi)
    ([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]], 0.5)
    """
    coords = np.asarray(coords, dtype=np.float64)
    pair = np.swapaxes(coords[..., 2:4, :], -1, -2)                  # (..., w, 2): θ_c, θ_r
    q, _ = np.linalg.qr(pair, mode="complete")                        # (..., w, w) orthogonal
    rows = coords @ q
    # orient: θ_c along +e₁, θ_r on the e₂ ≥ 0 side
    flip = np.ones(rows.shape[:-2] + (rows.shape[-1],))
    flip[..., 0] = np.where(rows[..., 2, 0] < 0, -1.0, 1.0)
    flip[..., 1] = np.where(rows[..., 3, 1] < 0, -1.0, 1.0)
    rows = rows * flip[..., None, :]
    phi = np.arctan2(rows[..., 3, 1], rows[..., 3, 0])
    return rows, np.clip(phi, 0.0, np.pi)


# ---- counter-based random words and their transforms (all float32, elementwise)

def words(key_data, x0, x1):
    """Threefry-2x32 of the counters (x0, x1) under ``key_data`` (2 uint32): two uint32 words."""
    x0, x1 = jnp.broadcast_arrays(jnp.asarray(x0, jnp.uint32), jnp.asarray(x1, jnp.uint32))
    return threefry2x32_p.bind(key_data[0], key_data[1], x0, x1)


def uniform(bits):
    """U ∈ [0, 1) from the top 23 bits of a uint32 word (as ``jax.random.uniform``)."""
    return jax.lax.bitcast_convert_type((bits >> 9) | np.uint32(0x3F800000), jnp.float32) - 1.0


_LO = float(np.nextafter(np.float32(-1.0), np.float32(0.0)))


def normal(bits):
    """N(0, 1) from a uint32 word by inversion, √2·erf⁻¹(V), V uniform on (−1, 1) (as JAX)."""
    v = _LO + (1.0 - _LO) * uniform(bits)
    return np.float32(np.sqrt(2.0)) * jax.lax.erf_inv(v)


def normal_pair(w_a, w_b):
    """N(0, 1) from two uint32 words by Box-Muller: ±√(−2 log(1 − U_b))·cos(πU_a − π/2).

    R cos Θ with Θ uniform on the circle is N(0, 1); cos Θ has the law of ±cos ψ, ψ uniform
    on [−π/2, π/2), with an independent fair sign (the top bit of ``w_a``; U_a is its next 23
    bits). Cheaper than :func:`normal` per value (a log and a polynomial, no erf⁻¹).
    """
    sign = jnp.where((w_a >> 31) == 1, -1.0, 1.0)
    _, c = sincos(np.float32(np.pi) * uniform(w_a << 1) - np.float32(np.pi / 2))
    return sign * jnp.sqrt(-2.0 * jnp.log(1.0 - uniform(w_b))) * c


# Taylor coefficients of sin and cos, to x¹³ and x¹⁴: below 1e-9 on [−π/2, π/2]
_SIN = [(-1) ** k / float(np.prod(np.arange(1, 2 * k + 2))) for k in range(7)]
_COS = [(-1) ** k / float(np.prod(np.arange(1, 2 * k + 1))) for k in range(8)]


def sincos(x):
    """(sin x, cos x) for x ∈ [−π/2, π/2] by polynomials (within float32 rounding).

    >>> x = np.linspace(-np.pi / 2, np.pi / 2, 1001)
    >>> s, c = sincos(jnp.asarray(x, jnp.float32))
    >>> bool(np.max(np.abs(np.asarray(s) - np.sin(x))) < 3e-7)
    True
    """
    x2 = x * x
    s = _SIN[-1]
    for a in _SIN[-2::-1]:
        s = s * x2 + a
    c = _COS[-1]
    for a in _COS[-2::-1]:
        c = c * x2 + a
    return x * s, c


def wedge_inputs(w0, w1, phi):
    """The in-plane part of an input given disagreement, eq. (1): (a₁, a₂, σ) from two words.

    ``w0``: σ (top bit) and U (the next 23 bits); ``w1``: ρ = √(−2 log(1 − U')).
    ``phi``: φ (broadcast). a = (a₁, a₂) are the input's coordinates on (e₁, e₂); η, the
    off-plane coordinate a loss may see, is an independent :func:`normal_pair`.
    """
    sigma = jnp.where((w0 >> 31) == 1, -1.0, 1.0)
    psi = phi * uniform(w0 << 1) - np.float32(np.pi / 2)
    rho = jnp.sqrt(-2.0 * jnp.log(1.0 - uniform(w1)))
    s, c = sincos(psi)
    return sigma * rho * c, sigma * rho * s, sigma


def binomial_table(batch: int, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CDF F(k) = P[N ≤ k], k < B, of N ~ Binomial(B, q), as 64-bit fixed point (hi, lo).

    N = #{k : U ≥ F(k)·2⁶⁴} for U uniform on 64-bit integers (:func:`count`). Shape
    ``q.shape + (B,)`` each, uint32. Exact to the float64 rounding of F.

    >>> hi, lo = binomial_table(2, np.array([0.5]))
    >>> (hi / 2**32).round(6).tolist()
    [[0.25, 0.75]]
    """
    q = np.asarray(q, dtype=np.float64)[..., None]
    k = np.arange(batch, dtype=np.float64)
    from math import lgamma

    lg = np.array([lgamma(i + 1.0) for i in range(batch + 1)])
    with np.errstate(divide="ignore", invalid="ignore"):
        logpmf = (lg[batch] - lg[:batch] - lg[batch - np.arange(batch)]
                  + k * np.log(q) + (batch - k) * np.log1p(-q))
        pmf = np.where(np.isfinite(logpmf), np.exp(logpmf), 0.0)
    pmf = np.where((q > 0) & (q < 1), pmf, np.where(k == 0, (q <= 0).astype(float), 0.0))
    cdf = np.minimum(np.cumsum(pmf, axis=-1), 1.0)
    fx = cdf * 2.0**32
    hi = np.minimum(np.floor(fx), 2.0**32 - 1)
    lo = np.minimum(np.floor((fx - hi) * 2.0**32), 2.0**32 - 1)
    return hi.astype(np.uint32), lo.astype(np.uint32)


def count(w_hi, w_lo, table_hi, table_lo):
    """N = #{k : U ≥ F(k)} from two uint32 words (U = w_hi·2³² + w_lo) and a
    :func:`binomial_table` (last axis k; one row shared, or one per word), by bisection: F is
    non-decreasing, so N is the first k with U < F(k) (B if none)."""
    batch = table_hi.shape[-1]
    shared = table_hi.shape[0] == 1

    def at(table, k):
        return table[0][k] if shared else jnp.take_along_axis(table, k[:, None], axis=1)[:, 0]

    lo = jnp.zeros(w_hi.shape, jnp.int32)
    hi = jnp.full(w_hi.shape, batch, jnp.int32)
    for _ in range(int(np.ceil(np.log2(batch + 1)))):
        mid = jnp.minimum((lo + hi) // 2, batch - 1)
        f_hi, f_lo = at(table_hi, mid), at(table_lo, mid)
        ge = (w_hi > f_hi) | ((w_hi == f_hi) & (w_lo >= f_lo))     # U ≥ F(mid)
        live = lo < hi
        lo = jnp.where(live & ge, mid + 1, lo)
        hi = jnp.where(live & ~ge, mid, hi)
    return lo


def _mt_log_ratio(x, c):
    """d·(1 − v + log v)·9/x² with v = (1 + c x)³, d c² = 1/9, stable for small c x.

    Equals f(y)/y² with y = c x and f(y) = 1 − (1 + y)³ + 3 log(1 + y) (−∞ where y ≤ −1).
    """
    y = c * x
    yy = jnp.where(jnp.abs(y) < 0.1, 0.5, y)                         # keep the direct form finite
    direct = (1.0 - (1.0 + yy) ** 3 + 3.0 * jnp.log1p(jnp.maximum(yy, -1.0))) / (yy * yy)
    # f(y)/y² = −9/2 − 3/4 y² + 3/5 y³ − 1/2 y⁴ + 3/7 y⁵ − 3/8 y⁶ + 1/3 y⁷ − 3/10 y⁸ …
    series = -0.3 * y + 1.0 / 3.0
    for a in (-3.0 / 8.0, 3.0 / 7.0, -0.5, 0.6, -0.75):
        series = series * y + a
    series = series * y * y - 4.5
    return jnp.where(jnp.abs(y) < 0.1, series, direct)


def chi2(dof, attempt_words, boost_word):
    """χ²_dof (dof ≥ 0, traced) by Marsaglia-Tsang rejection, attempts drawn until all accept.

    Args:
      dof: degrees of freedom (scalar; 0 gives 0).
      attempt_words: ``j ↦ (w_a, w_b)``, two uint32 words (any one shape) for attempt j = 0, 1, …
      boost_word: a uint32 word of that shape, used for dof = 1 only.

    Gamma(α) with α = dof/2 (α < 1 boosted: Gamma(α + 1)·U^{1/α}); d = α − 1/3,
    c = 1/√(9d); attempt x ~ N(0, 1), v = (1 + c x)³, accept if v > 0 and
    log U < x²/2 + d − d v + d log v, the last three terms computed as (x²/9)·f(y)/y², y = c x.
    """
    alpha = jnp.maximum(dof, 1.0) / 2.0
    boost = alpha < 1.0
    d = jnp.where(boost, alpha + 1.0, alpha) - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)
    shape = boost_word.shape

    def body(st):
        j, done, g = st
        w_a, w_b = attempt_words(j)
        x = normal(w_a)
        ok = (1.0 + c * x > 0) & (
            jnp.log(1.0 - uniform(w_b)) < 0.5 * x * x + (x * x / 9.0) * _mt_log_ratio(x, c))
        g = jnp.where(done, g, d * (1.0 + c * x) ** 3)
        return j + 1, done | ok, g

    init = (jnp.uint32(0), jnp.zeros(shape, bool), jnp.zeros(shape, jnp.float32))
    _, _, g = jax.lax.while_loop(lambda st: ~jnp.all(st[1]), body, init)
    u = uniform(boost_word)
    g = jnp.where(boost, g * jnp.exp(jnp.log1p(-u) / alpha), g)      # U^{1/α}, U ∈ (0, 1]
    return jnp.where(dof > 0, 2.0 * g, 0.0)
