"""One entry point to the engines, with validation and summary statistics."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from .engines import ENGINES, _common
from .engines._common import record_steps
from .errors import DeltaTheoryError
from .geometry import Geometry, alignment_to_accuracy, gram_matrix, random_overlaps, vectors
from .losses import CONTROLS, LOSSES
from .rng import generator
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
      seed: all randomness derives from it (same seed, same numbers). Trial i's numbers depend
        only on the seed and i, not on ``trials`` or on chunking: its error directions come from
        the stream ``(seed, 1, i)`` of :mod:`deltatheory.rng`, its inputs from ``(seed, 0, i)``
        (``numpy``), the JAX key ``fold_in(key(seed), i)`` (``full``, and ``reduced`` for the
        SFT losses) or counters (i, ·) under a key per step (``reduced``, pair losses: see
        :mod:`deltatheory.engines.reduced`).
      beta: β of DPO and IPO.
      engine: ``reduced`` (exact, d-free; for the pair losses it draws only the inputs on
        which the teachers disagree), ``full`` (explicit vectors, JAX) or ``numpy``.
      random_error_directions: draw u₀, u_c, u_r uniformly per trial (Corollary 6.2's model).
      records: how many evenly spaced steps to record besides step 0 (default min(steps, 50)).
      dataset_size: a fixed data set of this size, revisited (``full`` and ``numpy`` only).

    Returns:
      A :class:`SimulationResult`.

    Raises:
      DeltaTheoryError: for bad input, and before any work for a run whose arrays would not
        fit in memory (see :func:`estimate_peak_bytes` and :func:`memory_limit_bytes`).
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
    if not random_error_directions:
        for name in ("student", "chosen", "rejected", "overlap_chosen", "overlap_rejected",
                     "overlap_teachers"):
            if np.ndim(getattr(geometry, name)) != 0:
                raise DeltaTheoryError(f"{name} must be a single number for a simulation")
    _check_memory(engine, dim, trials, batch, dataset_size, steps, records,
                  random_error_directions)
    if random_error_directions:
        ov = trial_overlaps(dim, trials, seed)
        geometry = Geometry(geometry.student, geometry.chosen, geometry.rejected,
                            ov[:, 0], ov[:, 1], ov[:, 2])
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


OVERLAP_STREAM = 1
"""Trial i's random error directions come from the stream ``(seed, OVERLAP_STREAM, i)``."""


def trial_overlaps(dim: int, trials: int, seed: int) -> np.ndarray:
    """Overlaps ``(trials, 3)`` of random error directions, trial i's from its own stream.

    Row i depends only on (seed, i): the first rows are the same whatever ``trials`` is.

    >>> a, b = trial_overlaps(10, 3, 0), trial_overlaps(10, 5, 0)
    >>> bool(np.array_equal(a, b[:3]))
    True
    """
    return np.concatenate([random_overlaps(dim, 1, generator(seed, OVERLAP_STREAM, i))
                           for i in range(trials)])


_GIB = float(1 << 30)
MEMORY_ENV = "DELTATHEORY_MEMORY_LIMIT_GB"


def memory_limit_bytes() -> tuple[float, str]:
    """The most memory one simulation may plan to use, in bytes, and where the limit comes from.

    ``DELTATHEORY_MEMORY_LIMIT_GB`` (in GiB, 2**30 bytes) when set, else half of the available
    memory (``MemAvailable`` in /proc/meminfo, or the free physical pages where that is missing;
    no limit where neither can be read).
    """
    env = os.environ.get(MEMORY_ENV)
    if env is not None and env.strip():
        try:
            gib = float(env)
        except ValueError:
            gib = float("nan")
        if not np.isfinite(gib) or gib <= 0:
            raise DeltaTheoryError(
                f"{MEMORY_ENV}={env!r} is not a positive number of GiB")
        return gib * _GIB, f"set by {MEMORY_ENV}"
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = float(line.split()[1]) * 1024.0
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        try:
            avail = float(os.sysconf("SC_AVPHYS_PAGES")) * float(os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):
            return float("inf"), "available memory unknown"
    return avail / 2.0, "half the available memory"


def estimate_peak_bytes(engine: str, dim: int, trials: int, batch: int,
                        dataset_size: int | None = None, records: int = 51,
                        random_error_directions: bool = False) -> float:
    """Approximate peak memory of a simulation in bytes, from the arrays the engine allocates.

    ``numpy`` holds the float64 inputs of one chunk of trials (at least one trial: a batch, or the
    data set plus a batch gathered from it, of d-vectors), ``full`` the same in float32 with the
    random bits they are made from, ``reduced`` a fixed budget whatever d is; all hold the output
    (trials × records) and a little per trial (Gram matrix, keys, overlaps), and the explicit
    engines the d-dimensional vectors (once, or once per trial with random error directions).

    >>> round(estimate_peak_bytes("numpy", 10**9, 1000, 64) / 2**30)  # mostly one batch of inputs
    536
    >>> estimate_peak_bytes("reduced", 10**9, 1000, 64) < 2**30
    True
    """
    # Factors measured with the peak resident memory of runs of 0.1 to 1.5 GiB (numpy 1.0-1.3x,
    # full 1.0-1.6x of what is measured; full's random bits and their conversion triple its
    # inputs).
    per_trial = 24.0 * records + 64.0                          # outputs (float64 + copies), keys
    if random_error_directions:
        per_trial += 384.0                                     # overlaps, Gram matrix, eigh
    if engine == "reduced":
        micro = min(batch, 1024)
        width = min(4, dim)
        chunk = _common.trial_chunk(trials, micro * (width + 1), budget_floats=1 << 21)
        return trials * (per_trial + 512.0) + 4.0 * 4 * chunk * micro * (width + 1)
    ds = dataset_size or 0
    chunk = _common.trial_chunk(trials, max(batch, ds) * dim)
    n_vec = trials if random_error_directions else 1
    if engine == "numpy":                                      # float64 batch (or data + batch)
        inputs = 8.0 * chunk * dim * ((ds + 2 * batch) if ds else batch)
        return inputs + 8.0 * 4 * dim * n_vec + 8.0 * 4 * chunk * dim + trials * per_trial
    inputs = 4.0 * chunk * dim * (4 * ds + 6 * batch)          # float32, with the random bits
    vecs = 12.0 * 4 * dim * n_vec + 3 * 4.0 * 4 * chunk * dim  # float64 + float32; chunk copies
    return inputs + vecs + trials * per_trial


def _check_memory(engine, dim, trials, batch, dataset_size, steps, records, random_dirs):
    """Refuse, before any allocation, a run whose estimated peak exceeds the memory limit."""
    n_rec = min(records if records is not None else min(steps, 50), steps) + 1
    need = estimate_peak_bytes(engine, dim, trials, batch, dataset_size, n_rec, random_dirs)
    limit, why = memory_limit_bytes()
    if need <= limit:
        return
    if engine != "reduced" and dataset_size is None and estimate_peak_bytes(
            "reduced", dim, trials, batch, None, n_rec, random_dirs) <= limit:
        advice = "use engine 'reduced', which is exact at any d"
    elif engine != "reduced" and dataset_size is not None:
        advice = "use a smaller dim, dataset_size or trials (only 'full' and 'numpy' revisit data)"
    else:
        advice = "run fewer trials (several runs with different seeds add up)"
    raise DeltaTheoryError(
        f"engine {engine!r} at dim={dim} with trials={trials} needs about "
        f"{need / _GIB:.1f} GiB (limit {limit / _GIB:.1f} GiB, {why}); {advice}")

