"""The ``reduced`` engine: SGD in the logistic model, exact in distribution, cost independent of d.

Every loss sees an input x only through s = ⟨θ, x⟩, s_ref = ⟨θ₀, x⟩ and the labels
sign⟨θ_c, x⟩, sign⟨θ_r, x⟩. Put the four unit vectors (θ*, θ₀, θ_c, θ_r) in coordinates of a
w = min(4, d)-dimensional space S. The iterate is θ_t = P_t + r_t with P_t ∈ S and r_t ⟂ S. Split
a fresh input as x = z + ξ r̂_t + x_⊥⊥ (z ∈ S standard normal, ξ ~ N(0, 1)); the scalar loss
derivative c_i depends on (z_i, ξ_i) only, so given the c_i the sum Σ c_i x_⊥⊥,i is isotropic
Gaussian with variance Σ c_i² in the d − w − 1 remaining dimensions. Hence

    P ← P − (η/B) Σ c_i z_i,
    ‖r‖² ← (‖r‖ − (η/B) Σ c_i ξ_i)² + (η/B)² (Σ c_i²) χ²_{d−w−1},

and the direction of r never matters (future inputs are isotropic in S^⊥). A step costs
O(B·(w + 1)) random numbers whatever d is. Accuracy is exact from α = ⟨P, θ*⟩/√(‖P‖² + ‖r‖²).

Which inputs a step draws (the "path"): :func:`run` takes one per (loss, control), the one
:func:`draw_path` names (``draw="auto"``), stated here so that no caller has to guess:

================  ==============================================  ===============================
path              losses and controls                             draws per step and trial
================  ==============================================  ===============================
``disagreement``  ``pref``, ``dpo``, ``ipo`` under ``none``,      N ~ Binomial(B, φ/π) inputs,
                  ``reversed`` or ``tied``                        3 numbers each (2 for ``pref``;
                                                                  none for ``tied``, or φ = 0:
                                                                  nothing moves, nothing is run)
``all``           ``sft-chosen``, ``sft-rejected`` (any           B inputs, w + 1 normals each,
                  control); any control not classified in         in micro-batches of ≤ 1024
                  :mod:`~deltatheory.engines.disagreement`
================  ==============================================  ===============================

``disagreement``: a pair loss has zero derivative wherever the teachers give the same label, so
only the N inputs on which they disagree are drawn, from the exact conditional law
(:mod:`deltatheory.engines.disagreement`; φ = ∠(θ_c, θ_r); for 80/70/60 with independent errors
N/B ≈ 44 %). Shapes stay static: the N_i inputs of all trials of a chunk are laid end to end
(input l of trial i at position off_i + l, off = the running sum of the N_i) and processed
``_PAGE`` positions at a time, as many pages as the step's total needs (a ``while`` loop), so
nothing is drawn that is not used but the last page's tail. An input contributes c·(a₁, a₂, η)
and c² to its trial's sums (a scatter-add); the rest of its coordinates is added per trial in
distribution: N(0, (Σc²)(I − uuᵀ)) on S's off-plane coordinates and r̂, u the direction of the
off-plane part of θ − θ₀, and (Σc²) χ²_{d−w−1} to ‖r‖² as above. Both paths are exact; they use
different random numbers, so the same seed gives other (equally distributed) numbers on each.
Memory: per chunk, a position → trial map of n·B integers and the count's CDF table (one row,
or one per trial when φ varies), within the same budget as the ``all`` path's micro-batches.

For timing comparisons only, the environment variable ``DELTATHEORY_REDUCED_DRAW=all`` makes
``draw="auto"`` take the ``all`` path for every loss (the engine as it was before the
``disagreement`` path); results then come from other random numbers.

Vectorised over trials; steps run under ``lax`` loops; memory stays bounded whatever B is.
Computation is float32.

Randomness, ``all``: trial i's numbers come from the key ``fold_in(key(seed), i)`` (folded with
the step and micro-batch). ``disagreement``: the words j of trial i at step t are a Threefry hash
of the counter (i, j) under ``fold_in(root, t)``, root = ``split(key(seed))[1]``
(:mod:`~deltatheory.engines.disagreement`). Either way a trial's numbers depend only on (seed, i):
not on ``trials`` or on chunking (bit for bit on the CPU; on a GPU the ``disagreement`` path's
float32 scatter-adds may sum in another order); a padded chunk repeats trial 0's geometry and
the copies are dropped (see :mod:`deltatheory.engines.full` on float32 rounding).
"""

from __future__ import annotations

import os
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..losses import apply_control, loss_derivative
from . import disagreement
from ._common import signs, trial_chunk

_MICRO = 1024
SHARED_TABLE_MAX_BATCH = 1 << 22
"""Largest batch the ``disagreement`` path takes when every trial shares one geometry (its one
CDF table: 8 bytes per entry); larger batches, or larger than
:data:`~deltatheory.engines.disagreement.TABLE_MAX_BATCH` with geometries that vary by trial,
draw every input."""
_PAGE = 16384          # inputs the disagreement path processes at once (a page)

DRAWS = ("auto", "disagreement", "all")
DRAW_ENV = "DELTATHEORY_REDUCED_DRAW"
"""Set to ``all`` to make ``draw="auto"`` draw every input (timing comparisons only)."""


def coordinates(gram: np.ndarray, width: int) -> np.ndarray:
    """Rows (θ*, θ₀, θ_c, θ_r) in R^width with θ* = e₁, from their Gram matrix ``(..., 4, 4)``."""
    lam, q = np.linalg.eigh(gram)
    lam, q = lam[..., ::-1], q[..., :, ::-1]
    x = q * np.sqrt(np.clip(lam, 0.0, None))[..., None, :]
    x = x[..., :width]
    # rotate so that θ* = e1: Householder reflection taking x[0] to e1 (‖x[0]‖ = 1)
    t = x[..., 0, :]
    e1 = np.zeros_like(t)
    e1[..., 0] = 1.0
    u = t - e1
    nu = np.linalg.norm(u, axis=-1, keepdims=True)
    u = np.where(nu > 1e-12, u / np.where(nu > 1e-12, nu, 1.0), 0.0)
    return x - 2.0 * (x @ u[..., :, None]) * u[..., None, :]


@partial(jax.jit, static_argnames=("loss", "control", "batch", "micro", "has_rest"))
def _run_chunk(keys, vecs, lr, beta, dof, seg_lengths, *, loss, control, batch, micro,
               has_rest):
    width = vecs.shape[-1]
    n_micro = -(-batch // micro)

    def one_trial(key, v):
        theta0 = v[1]

        def grad_sums(step_key, p, r):
            def body(acc, j):
                k = jax.random.fold_in(step_key, j)
                kz, kx = jax.random.split(k)
                z = jax.random.normal(kz, (micro, width))
                xi = jax.random.normal(kx, (micro,)) if has_rest else jnp.zeros((micro,))
                mask = (j * micro + jnp.arange(micro)) < batch
                yc, yr = apply_control(signs(z @ v[2], jnp), signs(z @ v[3], jnp), control)
                s = z @ p + r * xi
                c = loss_derivative(loss, s, z @ theta0, yc, yr, beta, xp=jnp)
                c = jnp.where(mask, c, 0.0)
                return (acc[0] + c @ z, acc[1] + c @ xi, acc[2] + c @ c), None

            zero = (jnp.zeros(width), jnp.zeros(()), jnp.zeros(()))
            out, _ = jax.lax.scan(body, zero, jnp.arange(n_micro))
            return out

        def step(t, state):
            p, r = state
            k = jax.random.fold_in(key, t)
            k_batch, k_chi = jax.random.split(k)
            gz, gxi, c2 = grad_sums(k_batch, p, r)
            scale = lr / batch
            chi2 = jnp.where(dof > 0, 2.0 * jax.random.gamma(k_chi, jnp.maximum(dof, 1.0) / 2.0),
                             0.0)
            p = p - scale * gz
            r = jnp.sqrt((r - scale * gxi) ** 2 + scale**2 * c2 * chi2)
            return p, r

        def segment(carry, length):
            t0, p, r = carry
            p, r = jax.lax.fori_loop(t0, t0 + length, step, (p, r))
            return (t0 + length, p, r), p[0] / jnp.sqrt(p @ p + r**2)

        p0 = theta0
        init_align = p0[0] / jnp.sqrt(p0 @ p0)
        _, aligns = jax.lax.scan(segment, (jnp.int32(0), p0, jnp.float32(0.0)), seg_lengths)
        return jnp.concatenate([init_align[None], aligns])

    return jax.vmap(one_trial)(keys, vecs)


def draw_path(loss: str, control: str) -> str:
    """The path ``draw="auto"`` takes for a (loss, control): ``disagreement`` or ``all``.

    >>> draw_path("dpo", "none"), draw_path("ipo", "tied"), draw_path("sft-chosen", "none")
    ('disagreement', 'disagreement', 'all')
    """
    return "all" if disagreement.label_sign(loss, control) is None else "disagreement"


# counters of the per-step words (disagreement.STEP_WORDS + …); inputs use counters below 2³¹
_W_COUNT, _W_ZETA, _W_CHI_BOOST, _W_ETA, _W_CHI = 0, 1, 3, 4, 5


@partial(jax.jit, static_argnames=("loss", "batch", "page", "table", "has_rest", "state"))
def _run_chunk_disagreement(root, first, rows, phi, prob, t_hi, t_lo, sign, lr, beta, dof,
                            seg_lengths, *, loss, batch, page, table, has_rest, state=False):
    """The ``disagreement`` path for a chunk of n trials (leading axis n).

    ``root``: the run's key; ``first``: the number of the chunk's first trial (trial k of the
    chunk is trial ``first + k``, the counters' x₀; padding copies get numbers past the last
    trial, and are dropped);
    ``rows`` (n, 4, w): (θ*, θ₀, θ_c, θ_r) in the basis of
    :func:`~deltatheory.engines.disagreement.plane_coordinates`; ``phi``, ``prob`` (n,): φ and
    q (0: nothing moves); ``t_hi``, ``t_lo`` (n, B), or (1, B) shared by all trials: the count's
    CDF table (if ``table``); ``sign``: m = sign·σ (traced: ``none`` and ``reversed`` share
    one compilation).

    State per trial: P ∈ S (w coordinates) and r = ‖θ's part outside S‖, as in the ``all`` path.
    A step: N_i disagreeing inputs per trial, laid end to end over the chunk (input l of trial
    i at position off_i + l) and processed ``page`` positions at a time; each contributes
    c·(a₁, a₂, η) and c²; then the inputs' remaining off-plane parts are added in distribution.

    Returns the alignments ``(n, 1 + len(seg_lengths))``; with ``state=True`` (tests) the state
    instead: P ``(n, 1 + len(seg_lengths), w)`` and r ``(n, 1 + len(seg_lengths))``.
    """
    n, _, width = rows.shape
    star, theta0 = rows[:, 0], rows[:, 1]
    size = n * batch
    slots = jnp.arange(batch, dtype=jnp.int32)
    owner = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32)[:, None], (n, batch)).ravel()
    n_off = width - 2 + int(has_rest)                 # off-plane coordinates: e₃…e_w (and r̂)
    eta_per_input = loss != "pref"
    e0 = jnp.zeros(n_off).at[0].set(1.0)
    q_ok = (prob > 0) & (prob < 1)
    index = first + jnp.arange(n, dtype=jnp.uint32)

    def step(t, state):
        p, r = state
        kd = jax.random.key_data(jax.random.fold_in(root, t))

        def step_words(j):
            return disagreement.words(kd, index, disagreement.STEP_WORDS + jnp.uint32(j))

        # N_i ~ Binomial(B, q_i): q = 0 and q = 1 exactly, else the CDF table or jax's sampler
        if table:
            nt = disagreement.count(*step_words(_W_COUNT), t_hi, t_lo)
        else:
            kb = jax.random.wrap_key_data(jnp.stack(step_words(_W_COUNT), axis=-1),
                                          impl="threefry2x32")
            nt = jax.vmap(lambda k, q: jax.random.binomial(k, batch, q))(
                kb, jnp.where(q_ok, prob, 0.5)).astype(jnp.int32)
        nt = jnp.where(q_ok, nt, jnp.where(prob >= 1, batch, 0))

        # the inputs end to end: owner trial of each position, and where each trial starts
        cum = jnp.cumsum(nt)
        off = cum - nt
        total = cum[-1]
        pos = jnp.where(slots < nt[:, None], off[:, None] + slots, size + page).ravel()
        trial_at = jnp.zeros(size + page, jnp.int32).at[pos].set(owner, mode="drop")

        delta = p - theta0
        d_off = jnp.concatenate([delta[:, 2:], r[:, None]], axis=1) if has_rest else delta[:, 2:]
        d_norm = jnp.sqrt(jnp.sum(d_off * d_off, axis=1))
        per = jnp.stack([delta[:, 0], delta[:, 1], d_norm, phi], axis=1)

        def page_sums(carry):
            k, acc = carry
            at = k * page + jnp.arange(page, dtype=jnp.int32)
            tid = jax.lax.dynamic_slice(trial_at, (k * page,), (page,))
            f = per[tid]
            idx = first + tid.astype(jnp.uint32)
            l2 = 2 * (at - off[tid]).astype(jnp.uint32)
            a1, a2, sigma = disagreement.wedge_inputs(*disagreement.words(kd, idx, l2), f[:, 3])
            m = sign * sigma
            if eta_per_input:
                eta = disagreement.normal_pair(*disagreement.words(kd, idx, l2 + 1))
                # ⟨Δ, x⟩ = ⟨Δ_∥, a⟩ + ‖Δ_⊥‖ η; a pair loss depends on s − s_ref = ⟨Δ, x⟩ only
                s = f[:, 0] * a1 + f[:, 1] * a2 + f[:, 2] * eta
            else:
                eta = s = jnp.zeros_like(a1)                  # pref: c = −m whatever x is
            c = loss_derivative(loss, s, 0.0, m, -m, beta, xp=jnp)
            c = jnp.where(at < total, c, 0.0)
            return k + 1, acc.at[tid].add(jnp.stack([c * a1, c * a2, c * eta, c * c], axis=1))

        _, acc = jax.lax.while_loop(lambda carry: carry[0] * page < total, page_sums,
                                    (jnp.int32(0), jnp.zeros((n, 4))))
        g_plane, g_eta, c2 = acc[:, :2], acc[:, 2], acc[:, 3]
        if not eta_per_input:                               # Σ c_i η_i ~ N(0, Σ c_i²)
            g_eta = jnp.sqrt(c2) * disagreement.normal(step_words(_W_ETA)[0])

        # Σ c_i (y_i − η_i u) ~ N(0, C² (I − uuᵀ)) on the off-plane coordinates, C² = Σ c_i²
        zw = [w for j in range((n_off + 1) // 2) for w in step_words(_W_ZETA + j)]
        zeta = jnp.stack([disagreement.normal(w) for w in zw[:n_off]], axis=1)
        u = jnp.where(d_norm[:, None] > 0, d_off / jnp.where(d_norm > 0, d_norm, 1.0)[:, None],
                      e0)
        zeta = zeta - jnp.sum(zeta * u, axis=1, keepdims=True) * u
        scale = lr / batch
        v = d_off - scale * (g_eta[:, None] * u + jnp.sqrt(c2)[:, None] * zeta)
        p = jnp.concatenate([p[:, :2] - scale * g_plane, theta0[:, 2:] + v[:, :width - 2]],
                            axis=1)
        if has_rest:
            chi2 = disagreement.chi2(
                dof, lambda j: step_words(np.uint32(_W_CHI) + j),
                step_words(_W_CHI_BOOST)[0])
            r = jnp.sqrt(v[:, -1] ** 2 + scale**2 * c2 * chi2)
        return p, r

    def alignment(p, r):
        return jnp.sum(p * star, axis=1) / jnp.sqrt(jnp.sum(p * p, axis=1) + r**2)

    def segment(carry, length):
        t0, p, r = carry
        p, r = jax.lax.fori_loop(t0, t0 + length, step, (p, r))
        return (t0 + length, p, r), ((p, r) if state else alignment(p, r))

    r0 = jnp.zeros((n,))
    _, out = jax.lax.scan(segment, (jnp.int32(0), theta0, r0), seg_lengths)
    if state:
        ps, rs = out
        return (jnp.concatenate([theta0[:, None], jnp.moveaxis(ps, 0, 1)], axis=1),
                jnp.concatenate([r0[:, None], rs.T], axis=1))
    return jnp.concatenate([alignment(theta0, r0)[:, None], out.T], axis=1)


def run(gram: np.ndarray, dim: int, *, loss: str, control: str, lr: float, batch: int,
        trials: int, seed: int, beta: float, steps_recorded: np.ndarray,
        draw: str = "auto") -> np.ndarray:
    """Cosines to θ* at ``steps_recorded`` for each trial: array ``(trials, len(steps_recorded))``.

    Args:
      gram: Gram matrix of (θ*, θ₀, θ_c, θ_r), shape ``(4, 4)`` or ``(trials, 4, 4)``.
      dim: the dimension d (enters only through the χ² degrees of freedom).
      steps_recorded: increasing step indices starting at 0.
      draw: ``auto`` (the path :func:`draw_path` names), or force ``disagreement`` (a pair loss
        under a classified control only) or ``all`` (every input; the reference the tests hold
        the ``disagreement`` path to). Both paths are exact; they draw different numbers.
    """
    if draw not in DRAWS:
        raise ValueError(f"draw={draw!r} is not one of {', '.join(DRAWS)}")
    if draw == "auto" and os.environ.get(DRAW_ENV, "").strip() == "all":
        draw = "all"
    sign = disagreement.label_sign(loss, control)
    if draw == "disagreement" and sign is None:
        raise ValueError(f"loss {loss!r} with control {control!r} must draw every input")
    if draw == "all" or sign is None:
        return _run_all(gram, dim, loss=loss, control=control, lr=lr, batch=batch,
                        trials=trials, seed=seed, beta=beta, steps_recorded=steps_recorded)
    return _run_disagreement(gram, dim, loss=loss, control=control, sign=sign, lr=lr,
                             batch=batch, trials=trials, seed=seed, beta=beta,
                             steps_recorded=steps_recorded)


def _trial_keys(seed: int, trials: int):
    base = jax.random.key(seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(trials))


def _pad(arrays, chunk):
    """Pad each array (or key array) along axis 0 to ``chunk`` rows by repeating row 0."""
    n = arrays[0].shape[0]
    if n == chunk:
        return arrays
    out = []
    for a in arrays:
        xp = jnp if isinstance(a, jax.Array) else np
        out.append(xp.concatenate([a, xp.broadcast_to(a[:1], (chunk - n, *a.shape[1:]))]))
    return out


def _balanced(trials: int, chunk: int) -> int:
    """The chunk size that covers ``trials`` in as many chunks as ``chunk`` needs, padding least."""
    return -(-trials // -(-trials // chunk))


def _count_tables(batch: int, prob: np.ndarray, table: bool):
    """The count's CDF tables for these trials: one row (1, B) shared by all where every trial
    has the same q (no per-trial copy to stream through each step), else one per trial."""
    if not table:
        return np.zeros((1, 1), np.uint32), np.zeros((1, 1), np.uint32)
    qs, inv = np.unique(prob, return_inverse=True)
    hi, lo = disagreement.binomial_table(batch, qs.astype(np.float64))
    return (hi, lo) if len(qs) == 1 else (hi[inv], lo[inv])


def _run_disagreement(gram, dim, *, loss, control, sign, lr, batch, trials, seed, beta,
                      steps_recorded):
    width = min(4, dim)
    coords = coordinates(np.broadcast_to(gram, (trials, 4, 4)), width)
    rows, phi = disagreement.plane_coordinates(coords)
    rows, phi = rows.astype(np.float32), phi.astype(np.float32)
    # q = φ/π as the engine's float32 (the tables and q = 0, 1 tests use this value)
    prob = (phi / np.float32(np.pi) if sign != 0 else np.zeros(trials)).astype(np.float32)
    if not np.any(prob > 0):            # tied, or teachers that never disagree: nothing moves
        start = jnp.asarray(rows[:, 1])
        a0 = jnp.sum(start * rows[:, 0], axis=1) / jnp.sqrt(jnp.sum(start * start, axis=1))
        return np.repeat(np.asarray(a0, np.float64)[:, None], len(steps_recorded), axis=1)
    # the count comes from an exact CDF table: per trial up to TABLE_MAX_BATCH, or one table
    # shared by every trial (one geometry) up to SHARED_TABLE_MAX_BATCH; beyond, the every-input
    # path (exact too; float32 samplers such as jax.random.binomial are not binomial at large B)
    shared = np.unique(prob).size == 1
    if not (batch <= disagreement.TABLE_MAX_BATCH
            or (shared and batch <= SHARED_TABLE_MAX_BATCH)):
        return _run_all(gram, dim, loss=loss, control=control, lr=lr, batch=batch,
                        trials=trials, seed=seed, beta=beta, steps_recorded=steps_recorded)
    table = True
    has_rest = dim > width
    dof = np.float32(max(dim - width - 1, 0))
    root = jax.random.split(jax.random.key(seed, impl="threefry2x32"))[1]
    seg = jnp.asarray(np.diff(steps_recorded), dtype=jnp.int32)
    chunk = _balanced(trials, trial_chunk(trials, 5 * batch + 32, budget_floats=1 << 21))
    page = int(min(_PAGE, 1 << int(np.ceil(np.log2(max(chunk * batch, 64))))))
    outs = []
    one_table = _count_tables(batch, prob[:1], table) if shared else None  # built once
    for start in range(0, trials, chunk):
        sl = slice(start, min(start + chunk, trials))
        parts = _pad([rows[sl], phi[sl], prob[sl]], chunk)
        tables = one_table if shared else _count_tables(batch, prob[sl], table)
        if len(tables[0]) > 1:
            tables = _pad(list(tables), chunk)
        out = _run_chunk_disagreement(
            root, jnp.uint32(start), *map(jnp.asarray, [*parts, *tables]), jnp.float32(sign),
            jnp.float32(lr), jnp.float32(beta), dof, seg,
            loss=loss, batch=batch, page=page, table=table, has_rest=has_rest)
        outs.append(np.asarray(out)[: sl.stop - sl.start])
    return np.concatenate(outs).astype(np.float64)


def _run_all(gram, dim, *, loss, control, lr, batch, trials, seed, beta, steps_recorded):
    width = min(4, dim)
    vecs = coordinates(np.broadcast_to(gram, (trials, 4, 4)), width).astype(np.float32)
    has_rest = dim > width
    dof = np.float32(max(dim - width - 1, 0))
    micro = min(batch, _MICRO)
    keys = _trial_keys(seed, trials)
    seg = jnp.asarray(np.diff(steps_recorded), dtype=jnp.int32)
    chunk = trial_chunk(trials, micro * (width + 1), budget_floats=1 << 21)
    outs = []
    for start in range(0, trials, chunk):
        sl = slice(start, min(start + chunk, trials))
        # pad the last chunk to the common size so one compiled function serves every chunk
        k, v = _pad([keys[sl], vecs[sl]], chunk)
        out = _run_chunk(k, jnp.asarray(v), jnp.float32(lr), jnp.float32(beta), dof, seg,
                         loss=loss, control=control, batch=batch, micro=micro,
                         has_rest=has_rest)
        outs.append(np.asarray(out)[: sl.stop - sl.start])
    return np.concatenate(outs).astype(np.float64)
