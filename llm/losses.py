"""Per-pair losses that TRL lacks: daDPO and reward-difference-weighted (RDO-style) DPO.

Inputs are per-pair sequence log-probabilities (summed over completion tokens), shape (B,).
Δ_m(y) = log π_θ(y) − log π_m(y) for m = ref (the reference) or te (the teacher):

    daDPO:     ℓ = −log σ(β₁[Δ_ref(y_c) − Δ_ref(y_r)] + β₂[Δ_te(y_c) − Δ_te(y_r)])
    weighted:  ℓ = w · (−log σ(β[Δ_ref(y_c) − Δ_ref(y_r)]))

With β₂ = 0, daDPO is DPO with β = β₁; with all w = 1, weighted is DPO. ``−log σ(z)`` is
``softplus(−z)``, stable for large |z|.

References: daDPO, arXiv 2506.15717; RDO, arXiv 2408.09385; DPO, Rafailov et al. 2023.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deltatheory.errors import BadData, DeltaTheoryError

__all__ = ["dpo_loss", "dadpo_loss", "weighted_dpo_loss", "weights_from_gap", "WEIGHT_MAPPINGS"]


def dpo_loss(pc, pr, rc, rr, beta: float) -> torch.Tensor:
    """Per-pair sigmoid DPO loss (TRL's ``sigmoid``)."""
    return F.softplus(-beta * ((pc - rc) - (pr - rr)))


def dadpo_loss(pc, pr, rc, rr, tc, tr, beta1: float, beta2: float) -> torch.Tensor:
    """Per-pair daDPO loss; ``tc``/``tr`` are the teacher's log-probs of chosen/rejected."""
    z = beta1 * ((pc - rc) - (pr - rr)) + beta2 * ((pc - tc) - (pr - tr))
    return F.softplus(-z)


def weighted_dpo_loss(pc, pr, rc, rr, weight, beta: float) -> torch.Tensor:
    """Per-pair DPO loss times a non-negative per-pair weight."""
    return weight * dpo_loss(pc, pr, rc, rr, beta)


WEIGHT_MAPPINGS = ("linear", "sigmoid", "constant", "random")


def weights_from_gap(gap, mapping: str = "linear", temperature: float = 1.0,
                     seed: int = 0) -> torch.Tensor:
    """Per-pair weights ≥ 0 from a score gap, normalised to mean 1.

    ``linear``: w ∝ max(gap, 0); ``sigmoid``: w ∝ σ(gap/temperature); ``constant``: all 1;
    ``random``: w ∝ Uniform(0, 1) drawn from ``seed``, ignoring the gap (the control for a
    weighting: the same mean, no information about the pair).

    >>> weights_from_gap(torch.tensor([1.0, 3.0])).tolist()
    [0.5, 1.5]
    """
    gap = torch.as_tensor(gap, dtype=torch.float32)
    if not bool(torch.isfinite(gap).all()):
        raise BadData("the score gaps give non-finite weights (a gap is NaN or infinite)")
    if mapping == "linear":
        w = gap.clamp(min=0.0)
    elif mapping == "sigmoid":
        w = torch.sigmoid(gap / temperature)
    elif mapping == "constant":
        w = torch.ones_like(gap)
    elif mapping == "random":
        from deltatheory.rng import generator

        w = torch.as_tensor(generator(seed, 0x57).uniform(size=gap.shape), dtype=torch.float32)
    else:
        raise DeltaTheoryError(f"weight mapping {mapping!r} is not one of "
                               f"{', '.join(WEIGHT_MAPPINGS)}")
    mean = w.mean()
    if not mean > 0:
        raise BadData(f"the {mapping} weights of these gaps are all zero (no pair's "
                               "chosen answer scores above its rejected one): nothing to train "
                               "on")
    return w / mean
