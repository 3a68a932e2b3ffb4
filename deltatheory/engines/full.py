"""The ``full`` engine: SGD with explicit d-dimensional vectors and inputs (JAX).

Online mode draws a fresh batch x ~ N(0, I_d) every step. Finite-data mode draws ``dataset_size``
inputs once per trial and revisits them for several epochs (a fresh shuffle each epoch, batches
of ``batch``, the last partial batch dropped) — the one thing the ``reduced`` engine cannot do.
Trials run in chunks (``lax.map`` over chunks, ``vmap`` within) so that no array of
trials × samples × d is ever held. Computation is float32.

Trial i's random numbers come from the key ``fold_in(key(seed), i)`` (split into data and run
keys, then folded with the epoch or step), so they do not depend on ``trials`` or on chunking; a
padded chunk repeats trial 0's key and the copies are dropped. The arithmetic is XLA's: another
chunk shape may be vectorised differently and move a cosine by a float32 rounding (≤ 1.2e-7 seen).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..losses import apply_control, loss_derivative
from ._common import signs, trial_chunk


def _step_update(theta, x, v, lr, beta, loss, control):
    yc, yr = apply_control(signs(x @ v[2], jnp), signs(x @ v[3], jnp), control)
    c = loss_derivative(loss, x @ theta, x @ v[1], yc, yr, beta, xp=jnp)
    return theta - lr * (c @ x) / x.shape[0]


@partial(jax.jit, static_argnames=("loss", "control", "batch", "dataset_size"))
def _run_chunk(keys, vecs, lr, beta, seg_lengths, *, loss, control, batch, dataset_size):
    dim = vecs.shape[-1]

    def one_trial(key, v):
        k_data, k_run = jax.random.split(key)
        if dataset_size:
            data = jax.random.normal(k_data, (dataset_size, dim))
            per_epoch = dataset_size // batch

            def batch_at(t):
                perm = jax.random.permutation(jax.random.fold_in(k_run, t // per_epoch),
                                              dataset_size)
                idx = jax.lax.dynamic_slice(perm, ((t % per_epoch) * batch,), (batch,))
                return data[idx]
        else:
            def batch_at(t):
                return jax.random.normal(jax.random.fold_in(k_run, t), (batch, dim))

        def step(t, theta):
            return _step_update(theta, batch_at(t), v, lr, beta, loss, control)

        def segment(carry, length):
            t0, theta = carry
            theta = jax.lax.fori_loop(t0, t0 + length, step, theta)
            return (t0 + length, theta), theta[0] / jnp.linalg.norm(theta)

        th0 = v[1]
        _, aligns = jax.lax.scan(segment, (jnp.int32(0), th0), seg_lengths)
        return jnp.concatenate([(th0[0] / jnp.linalg.norm(th0))[None], aligns])

    return jax.vmap(one_trial)(keys, vecs)


def run(vecs: np.ndarray, *, loss: str, control: str, lr: float, batch: int, trials: int,
        seed: int, beta: float, steps_recorded: np.ndarray,
        dataset_size: int | None = None) -> np.ndarray:
    """Cosines to θ* at ``steps_recorded``, shape ``(trials, len(steps_recorded))``.

    Args:
      vecs: unit vectors (θ*, θ₀, θ_c, θ_r) in R^d with θ* = e₁, ``(4, d)`` or ``(trials, 4, d)``.
      dataset_size: if given, a fixed data set of this many inputs per trial, revisited.
    """
    dim = vecs.shape[-1]
    # a view: vectors shared by all trials are not copied once per trial
    vecs = np.broadcast_to(np.asarray(vecs, dtype=np.float32), (trials, 4, dim))
    base = jax.random.key(seed)
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(trials))
    seg = jnp.asarray(np.diff(steps_recorded), dtype=jnp.int32)
    chunk = trial_chunk(trials, max(batch, dataset_size or 0) * dim)
    outs = []
    for start in range(0, trials, chunk):
        k, v = keys[start:start + chunk], vecs[start:start + chunk]
        pad = chunk - v.shape[0]
        if pad:
            k = jnp.concatenate([k, jnp.broadcast_to(k[:1], (pad,))])
            v = np.concatenate([v, np.broadcast_to(v[:1], (pad, 4, dim))])
        out = _run_chunk(k, jnp.asarray(v), jnp.float32(lr), jnp.float32(beta), seg, loss=loss,
                         control=control, batch=batch, dataset_size=dataset_size or 0)
        outs.append(np.asarray(out)[: chunk - pad])
    return np.concatenate(outs).astype(np.float64)
