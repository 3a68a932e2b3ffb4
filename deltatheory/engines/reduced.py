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

Vectorised over trials with ``jax.vmap``; steps run under ``lax.scan``/``fori_loop``; a large
batch is summed in micro-batches so memory stays bounded. Computation is float32.

Trial i's random numbers come from the key ``fold_in(key(seed), i)`` (folded with the step and
micro-batch), so they do not depend on ``trials`` or on chunking; a padded chunk repeats trial 0's
key and the copies are dropped (see :mod:`deltatheory.engines.full` on float32 rounding).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..losses import apply_control, loss_derivative
from ._common import signs, trial_chunk

_MICRO = 1024


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


def run(gram: np.ndarray, dim: int, *, loss: str, control: str, lr: float, batch: int,
        trials: int, seed: int, beta: float, steps_recorded: np.ndarray) -> np.ndarray:
    """Cosines to θ* at ``steps_recorded`` for each trial: array ``(trials, len(steps_recorded))``.

    Args:
      gram: Gram matrix of (θ*, θ₀, θ_c, θ_r), shape ``(4, 4)`` or ``(trials, 4, 4)``.
      dim: the dimension d (enters only through the χ² degrees of freedom).
      steps_recorded: increasing step indices starting at 0.
    """
    width = min(4, dim)
    vecs = coordinates(np.broadcast_to(gram, (trials, 4, 4)), width).astype(np.float32)
    has_rest = dim > width
    dof = np.float32(max(dim - width - 1, 0))
    micro = min(batch, _MICRO)
    base = jax.random.key(seed)
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(trials))
    seg = jnp.asarray(np.diff(steps_recorded), dtype=jnp.int32)
    chunk = trial_chunk(trials, micro * (width + 1), budget_floats=1 << 21)
    outs = []
    for start in range(0, trials, chunk):
        sl = slice(start, min(start + chunk, trials))
        # pad the last chunk to the common size so one compiled function serves every chunk
        k, v = keys[sl], vecs[sl]
        pad = chunk - v.shape[0]
        if pad:
            k = jnp.concatenate([k, jnp.broadcast_to(k[:1], (pad,))])
            v = np.concatenate([v, np.broadcast_to(v[:1], (pad, 4, width))])
        out = _run_chunk(k, jnp.asarray(v), jnp.float32(lr), jnp.float32(beta), dof, seg,
                         loss=loss, control=control, batch=batch, micro=micro,
                         has_rest=has_rest)
        outs.append(np.asarray(out)[: chunk - pad])
    return np.concatenate(outs).astype(np.float64)
