"""Per-pair losses of the logistic model and their derivatives in the score s = ⟨θ, x⟩.

Each loss depends on θ only through s (and on the reference θ_ref through s_ref = ⟨θ_ref, x⟩), so
its gradient is ``dloss(s, s_ref, y_c, y_r) · x``; the simulation engines use only ``dloss``.
Functions are pure, return per-pair values, and run on numpy or ``jax.numpy`` arrays alike
(``xp`` is the array namespace). With m = (y_c − y_r)/2 ∈ {−1, 0, 1} and h = m(s − s_ref):

=============  ==================================  ============================
loss           value                               d value / d s
=============  ==================================  ============================
pref           −m s                                −m
dpo            −log σ(β h) = softplus(−β h)         −β m σ(−β h)
ipo            m² (h − 1/(2β))²                     2 m (h − 1/(2β))
sft-chosen     −log σ(y_c s)                        −y_c σ(−y_c s)
sft-rejected   −log σ(y_r s)                        −y_r σ(−y_r s)
=============  ==================================  ============================

``log σ(z)`` is computed as ``−softplus(−z)`` (``logaddexp(0, −z)``), stable for large |z|, and
σ as ``½(1 + tanh(z/2))``, which never overflows.

References: Geng et al. 2025, §6; Rafailov et al. 2023 (DPO); Azar et al. 2023 (IPO).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOSSES", "CONTROLS", "loss_value", "loss_derivative", "apply_control"]

LOSSES = ("pref", "dpo", "ipo", "sft-chosen", "sft-rejected")
CONTROLS = ("none", "reversed", "tied")


def _sigmoid(z, xp):
    return 0.5 * (1.0 + xp.tanh(0.5 * z))


def apply_control(y_c, y_r, control: str):
    """Labels after a control: ``reversed`` swaps chosen and rejected, ``tied`` sets y_r := y_c."""
    if control == "none":
        return y_c, y_r
    if control == "reversed":
        return y_r, y_c
    if control == "tied":
        return y_c, y_c
    raise ValueError(f"control={control!r} is not one of {', '.join(CONTROLS)}")


def loss_value(loss: str, s, s_ref, y_c, y_r, beta: float = 1.0, xp=np):
    """Per-pair loss values (same shape as the broadcast inputs).

    >>> float(loss_value("dpo", 0.0, 0.0, 1.0, -1.0, beta=1.0))  # log 2 at the reference
    0.6931471805599453
    """
    m = 0.5 * (y_c - y_r)
    h = m * (s - s_ref)
    if loss == "pref":
        return -m * s
    if loss == "dpo":
        return xp.logaddexp(0.0, -beta * h)
    if loss == "ipo":
        return m**2 * (h - 0.5 / beta) ** 2
    if loss == "sft-chosen":
        return xp.logaddexp(0.0, -y_c * s)
    if loss == "sft-rejected":
        return xp.logaddexp(0.0, -y_r * s)
    raise ValueError(f"loss={loss!r} is not one of {', '.join(LOSSES)}")


def loss_derivative(loss: str, s, s_ref, y_c, y_r, beta: float = 1.0, xp=np):
    """d loss / d s per pair; the gradient in θ is this times x.

    >>> float(loss_derivative("dpo", 0.0, 0.0, 1.0, -1.0, beta=2.0))  # −β/2 at the reference
    -1.0
    """
    m = 0.5 * (y_c - y_r)
    h = m * (s - s_ref)
    if loss == "pref":
        return -m * xp.ones_like(s)
    if loss == "dpo":
        return -beta * m * _sigmoid(-beta * h, xp)
    if loss == "ipo":
        return 2.0 * m * (h - 0.5 / beta)
    if loss == "sft-chosen":
        return -y_c * _sigmoid(-y_c * s, xp)
    if loss == "sft-rejected":
        return -y_r * _sigmoid(-y_r * s, xp)
    raise ValueError(f"loss={loss!r} is not one of {', '.join(LOSSES)}")
