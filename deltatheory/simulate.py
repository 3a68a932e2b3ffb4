"""One entry point to the engines, with validation and summary statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from .engines import ENGINES
from .engines._common import record_steps
from .errors import DeltaTheoryError
from .geometry import Geometry, alignment_to_accuracy, gram_matrix, random_overlaps, vectors
from .losses import CONTROLS, LOSSES
from .stats import mean_ci

__all__ = ["SimulationResult", "simulate", "mean_ci"]


@dataclass(frozen=True)
class SimulationResult:
    """Recorded cosines ``alignment`` (trials × records) at ``steps``, and the configuration."""

    steps: np.ndarray
    alignment: np.ndarray
    config: dict = field(default_factory=dict)

    @property
    def accuracy(self) -> np.ndarray:
        return alignment_to_accuracy(self.alignment)

    def summary(self) -> dict:
        """Initial, final and best mean accuracy with 95 % CIs, and the fraction improved.

        ``best_accuracy`` is the mean accuracy at the recorded step where the mean curve peaks
        (``best_step``); ``improved_fraction`` counts trials whose final accuracy beats the start.
        """
        acc = self.accuracy
        m, lo, hi = mean_ci(acc)
        b = int(np.argmax(m))

        def obj(i):
            return {"mean": float(m[i]), "ci95": [float(lo[i]), float(hi[i])]}

        gain = acc[:, -1] - acc[:, 0]
        gm, glo, ghi = mean_ci(gain)
        return {
            "initial_accuracy": obj(0),
            "final_accuracy": obj(-1),
            "best_accuracy": obj(b),
            "best_step": int(self.steps[b]),
            "final_gain": {"mean": float(gm), "ci95": [float(glo), float(ghi)]},
            "improved_fraction": float(np.mean(gain > 0)),
        }


def simulate(geometry: Geometry, dim: int, *, loss: str = "dpo", control: str = "none",
             lr: float = 0.1, steps: int = 100, batch: int = 64, trials: int = 1000,
             seed: int = 0, beta: float = 1.0, engine: str = "reduced",
             random_error_directions: bool = False, records: int | None = None,
             dataset_size: int | None = None) -> SimulationResult:
    """Run SGD on one loss in the logistic model and record the student's cosine to θ*.

    Args:
      geometry: accuracies and overlaps (ignored overlaps if ``random_error_directions``).
      dim: the dimension d ≥ 3.
      loss: one of ``pref``, ``dpo``, ``ipo``, ``sft-chosen``, ``sft-rejected``.
      control: ``none``, ``reversed`` (swap chosen and rejected labels) or ``tied`` (y_r := y_c).
      lr, steps, batch, trials: step size η, number of steps T, batch size B, independent runs.
      seed: all randomness derives from it (same seed, same numbers).
      beta: β of DPO and IPO.
      engine: ``reduced`` (exact, d-free), ``full`` (explicit vectors, JAX) or ``numpy``.
      random_error_directions: draw u₀, u_c, u_r uniformly per trial (Corollary 6.2's model).
      records: how many evenly spaced steps to record besides step 0 (default min(steps, 50)).
      dataset_size: a fixed data set of this size, revisited (``full`` and ``numpy`` only).

    Returns:
      A :class:`SimulationResult`.
    """
    if loss not in LOSSES:
        raise DeltaTheoryError(f"loss={loss!r} is not one of {', '.join(LOSSES)}")
    if control not in CONTROLS:
        raise DeltaTheoryError(f"control={control!r} is not one of {', '.join(CONTROLS)}")
    if engine not in ENGINES:
        raise DeltaTheoryError(f"engine={engine!r} is not one of {', '.join(ENGINES)}")
    dim = V.dimension(dim)
    lr = V.positive("lr", lr)
    beta = V.positive("beta", beta)
    steps = V.positive("steps", steps, integer=True)
    batch = V.positive("batch", batch, integer=True)
    trials = V.positive("trials", trials, integer=True)
    seed = int(V.finite("seed", seed))
    if seed < 0:
        raise DeltaTheoryError(f"seed={seed} must be a non-negative whole number")
    if records is not None:
        records = V.positive("records", records, integer=True)
    if dataset_size is not None:
        dataset_size = V.positive("dataset_size", dataset_size, integer=True)
        if engine == "reduced":
            raise DeltaTheoryError(
                "dataset_size needs engine 'full' or 'numpy': the reduced engine assumes fresh "
                "samples every step")
        if dataset_size < batch:
            raise DeltaTheoryError(f"dataset_size={dataset_size} must be at least batch={batch}")
    if random_error_directions:
        ov = random_overlaps(dim, trials, np.random.default_rng([seed, 1]))
        geometry = Geometry(geometry.student, geometry.chosen, geometry.rejected,
                            ov[:, 0], ov[:, 1], ov[:, 2])
    else:
        for name in ("student", "chosen", "rejected", "overlap_chosen", "overlap_rejected",
                     "overlap_teachers"):
            if np.ndim(getattr(geometry, name)) != 0:
                raise DeltaTheoryError(f"{name} must be a single number for a simulation")
    rec = record_steps(steps, records)
    kwargs = dict(loss=loss, control=control, lr=lr, batch=batch, trials=trials, seed=seed,
                  beta=beta, steps_recorded=rec)
    if engine == "reduced":
        if geometry.rank() > dim - 1:
            vectors(geometry, dim)  # raises the clear error
        from .engines import reduced

        align = reduced.run(gram_matrix(geometry), dim, **kwargs)
    else:
        vecs = vectors(geometry, dim)
        if engine == "full":
            from .engines import full as eng
        else:
            from .engines import numpy_engine as eng
        align = eng.run(vecs, dataset_size=dataset_size, **kwargs)
    config = dict(student=_scalar(geometry.student), chosen=_scalar(geometry.chosen),
                  rejected=_scalar(geometry.rejected), dim=dim, loss=loss, control=control,
                  lr=lr, steps=steps, batch=batch, trials=trials, seed=seed, beta=beta,
                  engine=engine, random_error_directions=random_error_directions,
                  dataset_size=dataset_size)
    if not random_error_directions:
        config.update(overlap_chosen=_scalar(geometry.overlap_chosen),
                      overlap_rejected=_scalar(geometry.overlap_rejected),
                      overlap_teachers=_scalar(geometry.overlap_teachers))
    return SimulationResult(steps=rec, alignment=align, config=config)


def _scalar(x):
    return float(x) if np.ndim(x) == 0 else None
