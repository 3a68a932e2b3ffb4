"""The ``numpy`` engine: a plain, readable numpy version of ``full`` (float64); the test oracle.

One loop over steps, vectorised over a chunk of trials. Nothing clever: every input is drawn in
full dimension, every label and gradient is computed as written in docs/theory.md.
"""

from __future__ import annotations

import numpy as np

from ..losses import apply_control, loss_derivative
from ._common import signs, trial_chunk


def run(vecs: np.ndarray, *, loss: str, control: str, lr: float, batch: int, trials: int,
        seed: int, beta: float, steps_recorded: np.ndarray,
        dataset_size: int | None = None) -> np.ndarray:
    """Same contract as :func:`deltatheory.engines.full.run`."""
    dim = vecs.shape[-1]
    vecs = np.broadcast_to(vecs, (trials, 4, dim))
    rng = np.random.default_rng(seed)
    steps = int(steps_recorded[-1])
    chunk = trial_chunk(trials, max(batch, dataset_size or 0) * dim)
    out = np.empty((trials, len(steps_recorded)))
    for start in range(0, trials, chunk):
        v = vecs[start:start + chunk]                                  # (n, 4, d)
        n = v.shape[0]
        theta = v[:, 1].copy()
        data = rng.standard_normal((n, dataset_size, dim)) if dataset_size else None
        per_epoch = dataset_size // batch if dataset_size else 0
        order = None
        col = 0
        for t in range(steps + 1):
            if t == steps_recorded[col]:
                out[start:start + n, col] = theta[:, 0] / np.linalg.norm(theta, axis=1)
                col += 1
            if t == steps:
                break
            if dataset_size:
                if t % per_epoch == 0:
                    order = np.argsort(rng.random((n, dataset_size)), axis=1)
                pos = (t % per_epoch) * batch
                idx = order[:, pos:pos + batch]
                x = np.take_along_axis(data, idx[:, :, None], axis=1)  # (n, B, d)
            else:
                x = rng.standard_normal((n, batch, dim))
            y_c = signs(np.einsum("nbd,nd->nb", x, v[:, 2]))
            y_r = signs(np.einsum("nbd,nd->nb", x, v[:, 3]))
            y_c, y_r = apply_control(y_c, y_r, control)
            s = np.einsum("nbd,nd->nb", x, theta)
            s_ref = np.einsum("nbd,nd->nb", x, v[:, 1])
            c = loss_derivative(loss, s, s_ref, y_c, y_r, beta)
            theta -= lr * np.einsum("nb,nbd->nd", c, x) / batch
    return out
