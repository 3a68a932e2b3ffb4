"""The bridge: place measured models in the theory's geometry from their answers on binary items.

Under Gaussian inputs two linear classifiers disagree on a fraction ∠(θ_a, θ_b)/π of inputs. So
the six pairwise disagreement rates among the truth, the student, the chosen and the rejected
model on a shared set of binary items give the Gram matrix of their unit vectors,
``G_ab = cos(π · D_ab)``, and from it everything :func:`deltatheory.predict` computes: the α's,
κ = signal − noise, λ* and the best accuracy on the ray.

Sampling noise can make the estimated G invalid (not positive semi-definite). It is then replaced
by the nearest correlation matrix in Frobenius norm (Higham 2002, alternating projections with
Dykstra's correction), and the result says so.

Uncertainty comes from the nonparametric bootstrap over items. Four binary columns have only 16
joint patterns, so resampling items is exactly drawing the 16 pattern counts from a multinomial:
the bootstrap costs O(B·16) whatever the number of items. ``p_improve`` is the bootstrap
probability that κ > 0 (Condition C1: the student improves for small steps).

The mapping assumes what the theory assumes — isotropic inputs and linear classifiers. For real
models it is a measurement model, not a fact; :mod:`llm.ladder` tests how well it predicts.

References: Geng et al. 2025, §6; Higham, "Computing the nearest correlation matrix" (2002).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ._io import read_jsonl, read_text
from .closed_forms import predict_from_gram
from .errors import DeltaTheoryError
from .geometry import alignment_to_accuracy
from .stats import percentile_ci

__all__ = ["ROLES", "BridgeResult", "estimate", "nearest_correlation", "read_predictions",
           "bridge"]

ROLES = ("truth", "student", "chosen", "rejected")
MIN_ITEMS = 30
_TRUE = {"1", "+1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "-1", "0.0", "-1.0", "false", "no", "n", "f"}
_PAIRS = [(i, j) for i in range(4) for j in range(i + 1, 4)]
# _BITS[p, m]: model m's label in joint pattern p (p = 8·truth + 4·student + 2·chosen + rejected)
_BITS = (np.arange(16)[:, None] >> np.array([3, 2, 1, 0])[None, :]) & 1
_DISAGREE = np.stack([_BITS[:, i] != _BITS[:, j] for i, j in _PAIRS], 1).astype(float)  # (16, 6)


def _label(value, column: str, row: int, path: str) -> int:
    key = str(value).strip().lower()
    if key in _TRUE:
        return 1
    if key in _FALSE:
        return 0
    raise DeltaTheoryError(
        f"{path}: column {column!r}, item {row}: label {value!r} is not binary "
        "(allowed: 0/1, -1/+1, true/false, yes/no)")


def read_predictions(path: str | Path, *, truth: str = "truth", student: str = "student",
                     chosen: str = "chosen", rejected: str = "rejected",
                     correctness: bool = False) -> np.ndarray:
    """Binary labels ``(n_items, 4)`` in the order truth, student, chosen, rejected.

    ``path`` is CSV (with a header) or JSONL (one object per line), chosen by its suffix
    (``.jsonl``/``.json`` or anything else as CSV). Labels may be 0/1, ±1, true/false or yes/no.

    With ``correctness=True`` the three model columns say whether each model was *right* on the
    item (a generative verifiable task: 1/true = right) and no truth column is read. On a binary
    task two models disagree exactly when one of them is right and the other wrong, so the
    labels (truth = 1, model = right) have the same disagreements, hence the same Gram matrix, as
    the models' binary answers.
    """
    p = Path(path)
    if not p.is_file():
        raise DeltaTheoryError(f"predictions file {str(path)!r} does not exist")
    cols = {"truth": truth, "student": student, "chosen": chosen, "rejected": rejected}
    if correctness:
        del cols["truth"]
    if p.suffix.lower() in (".jsonl", ".json"):
        rows = [obj for _, obj in read_jsonl(p)]
        header = list(dict.fromkeys(k for r in rows for k in r))
    else:
        reader = csv.DictReader(read_text(p, "predictions file").splitlines())
        try:
            rows = list(reader)
        except csv.Error as exc:
            raise DeltaTheoryError(f"{path}: line {reader.line_num} is not valid CSV ({exc})"
                                   ) from None
        header = reader.fieldnames or []
    for role, col in cols.items():
        if col not in header:
            raise DeltaTheoryError(
                f"{path}: column {col!r} (the {role}) is missing; columns are "
                f"{', '.join(map(repr, header)) or 'none'}")
    if not rows:
        raise DeltaTheoryError(f"{path}: no items (the file has a header but no rows of labels)")
    out = np.ones((len(rows), 4), dtype=np.int8)  # with correctness: truth = 1 ("right")
    for i, r in enumerate(rows):
        for m, role in enumerate(ROLES):
            if role not in cols:
                continue
            if cols[role] not in r or r[cols[role]] in (None, ""):
                raise DeltaTheoryError(f"{path}: column {cols[role]!r}, item {i + 1}: label is "
                                       "empty (every item needs all four labels)")
            out[i, m] = _label(r[cols[role]], cols[role], i + 1, str(path))
    return out


def nearest_correlation(a, *, tol: float = 1e-10, max_iter: int = 500) -> np.ndarray:
    """Nearest correlation matrix (PSD, unit diagonal) to each symmetric ``a[..., k, k]``.

    Higham's alternating projections with Dykstra's correction, vectorised over leading axes.
    Matrices that are already valid come back unchanged.

    >>> g = np.array([[1, .9, -.9], [.9, 1, .9], [-.9, .9, 1]])
    >>> c = nearest_correlation(g)
    >>> bool(np.linalg.eigvalsh(c).min() > -1e-9), np.allclose(np.diag(c), 1)
    (True, True)
    """
    a = np.asarray(a, dtype=float)
    y = a.copy()
    ds = np.zeros_like(a)
    eye = np.eye(a.shape[-1], dtype=bool)
    for _ in range(max_iter):
        r = y - ds
        lam, q = np.linalg.eigh(r)
        x = (q * np.clip(lam, 0.0, None)[..., None, :]) @ np.swapaxes(q, -1, -2)
        ds = x - r
        y_new = np.where(eye, 1.0, x)
        if np.max(np.abs(y_new - y), initial=0.0) < tol:
            y = y_new
            break
        y = y_new
    return (y + np.swapaxes(y, -1, -2)) / 2


def _valid(g: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(g)[..., 0] >= -1e-12


def _gram_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw Gram, valid Gram, was-projected) from pattern counts ``(..., 16)``."""
    n = counts.sum(-1, keepdims=True)
    d = (counts @ _DISAGREE) / n                                   # (..., 6)
    raw = np.broadcast_to(np.eye(4), d.shape[:-1] + (4, 4)).copy()
    for k, (i, j) in enumerate(_PAIRS):
        raw[..., i, j] = raw[..., j, i] = np.cos(np.pi * d[..., k])
    ok = _valid(raw)
    g = raw.copy()
    if not np.all(ok):
        g[~ok] = nearest_correlation(raw[~ok])
    return raw, g, ~ok


def _ci(x: np.ndarray) -> list[float] | None:
    return percentile_ci(x)


@dataclass(frozen=True)
class BridgeResult:
    """Everything the bridge estimates; :meth:`to_dict` is the ``--json`` output."""

    n_items: int
    accuracy: dict
    accuracy_ci95: dict
    alpha: dict
    disagreement: list
    gram_raw: list
    gram: list
    projected: bool
    projection_distance: float
    kappa: float
    kappa_ci95: list
    signal: float
    signal_ci95: list
    noise: float
    noise_ci95: list
    lambda_star: float
    predicted_best_accuracy: float
    predicted_best_accuracy_ci95: list
    predicted_gain: float
    predicted_gain_ci95: list
    p_improve: float
    bootstrap: int
    seed: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lambda_star"] = None if not np.isfinite(self.lambda_star) else self.lambda_star
        return d

    def summary(self) -> str:
        acc = ", ".join(f"{m} {self.accuracy[m]:.3f} [{self.accuracy_ci95[m][0]:.3f}, "
                        f"{self.accuracy_ci95[m][1]:.3f}]" for m in ROLES[1:])
        lam = "∞ (over-training limit)" if not np.isfinite(self.lambda_star) else (
            f"{self.lambda_star:.4g}")
        lines = [
            f"items: {self.n_items}   accuracy: {acc}",
            "alpha: " + ", ".join(f"{m} {self.alpha[m]:.3f}" for m in ROLES[1:]),
            f"kappa = signal − noise = {self.kappa:+.4f} [{self.kappa_ci95[0]:+.4f}, "
            f"{self.kappa_ci95[1]:+.4f}]   (signal {self.signal:+.4f}, noise {self.noise:+.4f})",
            f"P[kappa > 0] (bootstrap): {self.p_improve:.3f}   "
            + ("C1 holds: the pair should help" if self.kappa > 0 else
               "C1 fails: the pair should not help"),
            f"lambda* = {lam}; predicted best accuracy {self.predicted_best_accuracy:.4f} "
            f"(gain {100 * self.predicted_gain:+.2f} points "
            f"[{100 * self.predicted_gain_ci95[0]:+.2f}, "
            f"{100 * self.predicted_gain_ci95[1]:+.2f}])",
        ]
        if self.projected:
            lines.append(f"note: the measured Gram matrix was not positive semi-definite "
                         f"(sampling noise); projected to the nearest valid one "
                         f"(max change {self.projection_distance:.3g})")
        return "\n".join(lines)


def estimate(labels, *, bootstrap: int = 2000, seed: int = 0) -> BridgeResult:
    """Estimate the geometry and the theory's predictions from binary labels ``(n, 4)``.

    Columns are truth, student, chosen, rejected (see :func:`read_predictions`).

    >>> rng = np.random.default_rng(1)
    >>> from deltatheory import Geometry, vectors, kappa
    >>> g = Geometry(0.8, 0.7, 0.6)
    >>> x = rng.standard_normal((20000, 4))
    >>> r = estimate(x @ vectors(g, 4).T > 0, bootstrap=200)
    >>> round(float(kappa(g)), 3), round(r.kappa, 3), r.kappa_ci95 == sorted(r.kappa_ci95)
    (0.096, 0.108, True)
    """
    y = np.asarray(labels)
    if y.ndim != 2 or y.shape[1] != 4:
        raise DeltaTheoryError(f"labels must have shape (items, 4), got {y.shape}")
    n = len(y)
    if n < MIN_ITEMS:
        raise DeltaTheoryError(f"{n} items are too few for the bootstrap: the bridge needs at "
                               f"least {MIN_ITEMS}")
    if int(bootstrap) < 100:
        raise DeltaTheoryError(f"bootstrap={bootstrap} must be at least 100 resamples")
    y = (y > 0).astype(int)
    wrong = (y[:, 1:] != y[:, :1]).sum(0)
    for m, k in zip(ROLES[1:], wrong, strict=True):
        if k == 0:
            raise DeltaTheoryError(
                f"the {m} never disagrees with the truth on {n} items: its error direction is "
                "undefined, so the bridge cannot place it")
    if wrong[0] >= n / 2:
        raise DeltaTheoryError(
            f"the student's accuracy {1 - wrong[0] / n:.3f} is not above chance (0.5): the "
            "theory needs a student better than chance")
    # Everything the bridge computes depends on the labels only through which models disagree.
    # Count patterns in the canonical form "model agrees with the truth" (truth column = 1), so
    # that binary answers and right/wrong columns (``correctness``) give identical counts, hence
    # identical estimates and bootstrap draws.
    y = np.where(y == y[:, :1], 1, 0)
    counts = np.bincount(y @ np.array([8, 4, 2, 1]), minlength=16).astype(float)
    raw, g, proj = _gram_from_counts(counts)
    p = predict_from_gram(g)
    rng = np.random.default_rng(seed)
    boot = rng.multinomial(n, counts / n, size=int(bootstrap)).astype(float)
    _, gb, _ = _gram_from_counts(boot)
    pb = predict_from_gram(gb)
    acc = {m: float(1 - wrong[i] / n) for i, m in enumerate(ROLES[1:])}
    acc_b = 1.0 - (boot @ _DISAGREE[:, :3]) / n                   # truth vs student/chosen/rej.
    base = alignment_to_accuracy(p.alpha_student)
    gain_b = alignment_to_accuracy(pb.best_alignment) - alignment_to_accuracy(pb.alpha_student)
    d = np.zeros((4, 4))
    dis = (counts @ _DISAGREE) / n
    for k, (i, j) in enumerate(_PAIRS):
        d[i, j] = d[j, i] = dis[k]
    return BridgeResult(
        n_items=n, accuracy=acc,
        accuracy_ci95={m: _ci(acc_b[:, i]) for i, m in enumerate(ROLES[1:])},
        alpha={m: float(g[0, i + 1]) for i, m in enumerate(ROLES[1:])},
        disagreement=d.round(12).tolist(), gram_raw=raw.round(12).tolist(),
        gram=g.round(12).tolist(), projected=bool(proj),
        projection_distance=float(np.abs(g - raw).max()),
        kappa=float(p.kappa), kappa_ci95=_ci(pb.kappa),
        signal=float(p.signal), signal_ci95=_ci(pb.signal),
        noise=float(p.noise), noise_ci95=_ci(pb.noise),
        lambda_star=float(p.lambda_star),
        predicted_best_accuracy=float(p.best_accuracy),
        predicted_best_accuracy_ci95=_ci(alignment_to_accuracy(pb.best_alignment)),
        predicted_gain=float(p.best_accuracy - base), predicted_gain_ci95=_ci(gain_b),
        p_improve=float(np.mean(pb.kappa > 0)), bootstrap=int(bootstrap), seed=int(seed),
    )


def bridge(path: str | Path, *, truth: str = "truth", student: str = "student",
           chosen: str = "chosen", rejected: str = "rejected", bootstrap: int = 2000,
           seed: int = 0, correctness: bool = False) -> BridgeResult:
    """:func:`read_predictions` then :func:`estimate`."""
    y = read_predictions(path, truth=truth, student=student, chosen=chosen, rejected=rejected,
                         correctness=correctness)
    return estimate(y, bootstrap=bootstrap, seed=seed)
