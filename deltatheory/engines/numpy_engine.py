"""The ``numpy`` engine: a plain, readable numpy version of ``full`` (float64); the test oracle.

One loop over steps, vectorised over a chunk of trials. Nothing clever: every input is drawn in
full dimension, every label and gradient is computed as written in docs/theory.md.

Trial i draws all its numbers (its data set, shuffles and batches, in that order) from its own
stream ``generator(seed, 0, i)`` (:mod:`deltatheory.rng`), so its result depends only on the seed
and i: not on how many trials run, nor on how they are chunked.
"""

from __future__ import annotations

import numpy as np

from ..losses import apply_control, loss_derivative
from ..rng import generator
from ._common import signs, trial_chunk

STREAM = 0
"""Trial i's inputs come from the stream ``(seed, STREAM, i)``."""


def run(vecs: np.ndarray, *, loss: str, control: str, lr: float, batch: int, trials: int,
        seed: int, beta: float, steps_recorded: np.ndarray,
        dataset_size: int | None = None) -> np.ndarray:
    """Same contract as :func:`deltatheory.engines.full.run`."""
    dim = vecs.shape[-1]
    vecs = np.broadcast_to(vecs, (trials, 4, dim))
    steps = int(steps_recorded[-1])
    chunk = trial_chunk(trials, max(batch, dataset_size or 0) * dim)
    out = np.empty((trials, len(steps_recorded)))
    for start in range(0, trials, chunk):
        v = vecs[start:start + chunk]                                  # (n, 4, d)
        n = v.shape[0]
        rngs = [generator(seed, STREAM, i) for i in range(start, start + n)]
        theta = v[:, 1].copy()
        x = np.empty((n, batch, dim))
        if dataset_size:
            data = np.empty((n, dataset_size, dim))
            for k, g in enumerate(rngs):
                g.standard_normal((dataset_size, dim), out=data[k])
            per_epoch = dataset_size // batch
            rows = np.arange(n)[:, None]
        col = 0
        for t in range(steps + 1):
            if t == steps_recorded[col]:
                out[start:start + n, col] = theta[:, 0] / np.linalg.norm(theta, axis=1)
                col += 1
            if t == steps:
                break
            if dataset_size:
                if t % per_epoch == 0:
                    order = np.stack([g.permutation(dataset_size) for g in rngs])
                pos = (t % per_epoch) * batch
                x = data[rows, order[:, pos:pos + batch]]              # (n, B, d)
            else:
                for k, g in enumerate(rngs):
                    g.standard_normal((batch, dim), out=x[k])
            y_c = signs(np.einsum("nbd,nd->nb", x, v[:, 2]))
            y_r = signs(np.einsum("nbd,nd->nb", x, v[:, 3]))
            y_c, y_r = apply_control(y_c, y_r, control)
            s = np.einsum("nbd,nd->nb", x, theta)
            s_ref = np.einsum("nbd,nd->nb", x, v[:, 1])
            c = loss_derivative(loss, s, s_ref, y_c, y_r, beta)
            theta -= lr * np.einsum("nb,nbd->nd", c, x) / batch
    return out
