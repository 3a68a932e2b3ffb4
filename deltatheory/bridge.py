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

Labels come from a table (:func:`read_predictions`: CSV or JSONL, one column per model) or from
the per-sample logs that EleutherAI's lm-evaluation-harness writes with ``--log_samples``, one
file per model, joined on the item id (:func:`read_lm_eval_samples`). Reading either needs the
standard library and numpy only: neither lm_eval nor torch is imported.

The mapping assumes what the theory assumes — isotropic inputs and linear classifiers. For real
models it is a measurement model, not a fact; :mod:`llm.ladder` tests how well it predicts.

References: Geng et al. 2025, §6; Higham, "Computing the nearest correlation matrix" (2002).
"""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ._io import read_jsonl, read_text
from .closed_forms import predict_from_gram
from .errors import DeltaTheoryError
from .geometry import alignment_to_accuracy
from .stats import percentile_ci

__all__ = ["ROLES", "SAMPLE_ROLES", "BridgeResult", "estimate", "nearest_correlation",
           "read_predictions", "bridge", "parse_sample_specs", "read_lm_eval_samples",
           "bridge_lm_eval"]

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


# ---------------------------------------------------------------- lm-evaluation-harness samples
#: roles a sample file can stand for (``ROLE=PATH``); the truth is optional
SAMPLE_ROLES = ("student", "chosen", "rejected", "truth")
# samples_TASK_DATE.jsonl (lm-eval's EvaluationTracker) or lm-eval/samples_TASK.jsonl (`llm eval`)
_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+?)(?P<date>_\d{4}-\d{2}-\d{2}T[0-9.\-:]+)?"
                           r"\.jsonl$")


def parse_sample_specs(specs) -> dict[str, Path]:
    """``["student=PATH", …]`` as {role: path}: student, chosen and rejected, optionally truth.

    >>> sorted(parse_sample_specs(["student=a.jsonl", "chosen=b.jsonl", "rejected=c.jsonl"]))
    ['chosen', 'rejected', 'student']
    """
    out: dict[str, Path] = {}
    for spec in specs or ():
        role, sep, path = str(spec).partition("=")
        role = role.strip()
        if not sep or not path.strip():
            raise DeltaTheoryError(f"--lm-eval-samples {spec!r} must be ROLE=PATH, ROLE one of "
                                   f"{', '.join(SAMPLE_ROLES)}")
        if role not in SAMPLE_ROLES:
            raise DeltaTheoryError(f"--lm-eval-samples {spec!r}: role {role!r} is not one of "
                                   f"{', '.join(SAMPLE_ROLES)}")
        if role in out:
            raise DeltaTheoryError(f"--lm-eval-samples names the {role} twice")
        out[role] = Path(path.strip())
    missing = [r for r in SAMPLE_ROLES[:3] if r not in out]
    if missing:
        raise DeltaTheoryError(f"--lm-eval-samples needs the {' and the '.join(missing)} "
                               "(ROLE=PATH, one per model)")
    return out


def _task_from_name(path: Path) -> str | None:
    """The task an lm-eval samples file is named after, when its name is one a harness wrote:
    lm-eval's ``samples_TASK_DATE.jsonl``, or ``samples_TASK.jsonl`` in the ``lm-eval/`` folder
    of ``deltatheory llm eval``. A name a user chose (``samples_gsm8k_student.jsonl``) says
    nothing: the files' items decide then.

    >>> _task_from_name(Path("out/samples_gsm8k_2026-12-05T10-11-12.123456.jsonl"))
    'gsm8k'
    >>> _task_from_name(Path("run/lm-eval/samples_addition-choice.jsonl"))
    'addition-choice'
    >>> _task_from_name(Path("samples_gsm8k_student.jsonl")), _task_from_name(Path("x.jsonl"))
    (None, None)
    """
    m = _SAMPLES_NAME.match(path.name)
    if not m or not (m["date"] or path.absolute().parent.name == "lm-eval"):
        return None
    return m["task"]


def _zero_one(value) -> int | None:
    """0 or 1 for a right/wrong value (bool, 0/1 as int or float), else None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    return None


def _read_samples(path: Path, role: str, metric: str, filter_: str | None) -> tuple[dict, str]:
    """{doc_id: sample} of one lm-eval samples file, for one filter; and that filter's name."""
    if not path.is_file():
        raise DeltaTheoryError(f"the {role}'s samples file {str(path)!r} "
                               + ("is a folder, not a file" if path.is_dir() else
                                  "does not exist"))
    by_filter: dict[str, list] = {}
    for ln, obj in read_jsonl(path):
        if "doc_id" not in obj:
            raise DeltaTheoryError(f"{path}:{ln} has no doc_id: not a per-sample log of "
                                   "lm-eval (--log_samples)")
        by_filter.setdefault(str(obj.get("filter", "none")), []).append((ln, obj))
    if filter_ is None:
        if len(by_filter) > 1:
            raise DeltaTheoryError(f"{path} logs several filters ({', '.join(by_filter)}): "
                                   "choose one with --filter")
        filter_ = next(iter(by_filter))
    elif filter_ not in by_filter:
        raise DeltaTheoryError(f"{path} has no filter {filter_!r} (it logs: "
                               f"{', '.join(by_filter)})")
    out = {}
    for ln, obj in by_filter[filter_]:
        doc_id = obj["doc_id"]
        if isinstance(doc_id, bool) or not isinstance(doc_id, int | str):
            raise DeltaTheoryError(f"{path}:{ln}: doc_id {doc_id!r:.40} must be a whole number "
                                   "or a string")
        if doc_id in out:
            raise DeltaTheoryError(f"{path}:{ln}: doc_id {doc_id!r} appears twice for filter "
                                   f"{filter_!r}")
        if metric not in obj:
            logged = obj.get("metrics") or [k for k, v in obj.items() if _zero_one(v) is not None
                                            and k != "doc_id"]
            raise DeltaTheoryError(f"{path}:{ln} has no metric {metric!r} (it logs: "
                                   f"{', '.join(map(str, logged)) or 'none'}): choose one with "
                                   "--metric")
        listed = obj.get("metrics")
        if isinstance(listed, list) and metric not in listed:
            raise DeltaTheoryError(f"{path}:{ln}: {metric!r} is a field but not one of the "
                                   f"metrics it logs ({', '.join(map(str, listed))}): choose "
                                   "one with --metric")
        if _zero_one(obj[metric]) is None:
            raise DeltaTheoryError(f"{path}:{ln}: metric {metric!r} is {obj[metric]!r}, not 0 "
                                   "or 1: the bridge needs a right/wrong metric per item (acc, "
                                   "exact_match, …)")
        out[doc_id] = obj
    return out, filter_


def _item(sample: dict):
    """What identifies an item across models: its document without the model's own rendering
    (``rendered_*`` fields, see :mod:`deltatheory.llm.harness_tasks`), else its hash."""
    doc = sample.get("doc")
    if isinstance(doc, dict):
        return ("doc", {k: v for k, v in doc.items() if not str(k).startswith("rendered_")})
    if "doc_hash" in sample:
        return ("doc_hash", sample["doc_hash"])
    return None


def _binary_truth(samples: dict, ids: list, path: Path) -> np.ndarray:
    """Per item, 1 when the target is the task's first answer: for a multiple-choice task with
    two choices, the first choice (the project's convention: 1 = the first candidate); for a
    task with one request per item, the first of its two distinct target values in sorted
    order. Raises when the targets are not binary."""
    first = samples[ids[0]]
    n_choices = len(first.get("arguments") or ())
    if n_choices >= 2:
        out = np.empty(len(ids), dtype=np.int8)
        for i, d in enumerate(ids):
            s = samples[d]
            k, t = len(s.get("arguments") or ()), str(s.get("target")).strip()
            if k != 2 or t not in ("0", "1"):
                raise DeltaTheoryError(
                    f"{path}: doc_id {d!r} has {k} choices and target {t!r}: a truth from the "
                    "target (--truth-from-target, truth=PATH) needs binary targets (two choices); "
                    "give three files for correctness instead")
            out[i] = 1 if t == "0" else 0
        return out
    targets = [str(samples[d].get("target")) for d in ids]
    values = sorted(set(targets))
    if len(values) != 2:
        shown = ", ".join(repr(v) for v in values[:3]) + (", …" if len(values) > 3 else "")
        raise DeltaTheoryError(
            f"{path}: the targets take {len(values)} distinct values ({shown}): a truth from the "
            "target (--truth-from-target, truth=PATH) needs binary targets; give three files for "
            "correctness instead")
    return np.array([t == values[0] for t in targets], dtype=np.int8)


def read_lm_eval_samples(samples, *, metric: str = "acc", filter: str | None = None,
                         truth_from_target: bool = False) -> tuple[np.ndarray, dict]:
    """Binary labels ``(n_items, 4)`` (truth, student, chosen, rejected) from lm-eval logs.

    ``samples``: {role: path} (see :func:`parse_sample_specs`), each a per-sample file written by
    lm-eval's ``--log_samples`` (``samples_TASK_DATE.jsonl``) or by ``deltatheory llm eval
    --harness lm-eval`` (``samples_TASK.jsonl``, the same format): one JSON line per item with
    its ``doc_id``, ``target`` and each metric as a top-level key. Items are joined on
    ``doc_id``; ``metric`` must be 0/1 on every item (right/wrong: ``acc``, ``exact_match``, …);
    ``filter`` picks one of lm-eval's filters where a file logs several (GSM8K's
    ``strict-match`` and ``flexible-extract``).

    Three readings, by what stands for the truth:

    * none (student, chosen and rejected only): the metric is each model's right/wrong, read as
      :func:`read_predictions` reads ``correctness=True`` (truth column 1).
    * ``truth_from_target=True``: the task's own target, for a task with binary targets (two
      choices, or two distinct target values); each model's label is the answer it gave
      (the target when right, the other answer when wrong). The numbers are those of the
      correctness reading: on a binary task a model disagrees with the truth exactly when wrong.
    * a ``truth`` file: a fourth model's answers (derived the same way) stand for the truth, on
      a task with binary targets.

    Refused, in one line: a file that is missing, not a sample log, or without the metric; a
    metric that is not 0/1; items missing from a model; files of different tasks (named after
    different tasks, or an item whose target or document differs between files).

    Returns the labels and what was read: task, metric, filter, truth, files.
    """
    paths = {r: Path(p) for r, p in dict(samples).items()}
    for r in paths:
        if r not in SAMPLE_ROLES:
            raise DeltaTheoryError(f"role {r!r} is not one of {', '.join(SAMPLE_ROLES)}")
    for r in SAMPLE_ROLES[:3]:
        if r not in paths:
            raise DeltaTheoryError(f"lm-eval samples for the {r} are missing")
    if truth_from_target and "truth" in paths:
        raise DeltaTheoryError("give either a truth file (truth=PATH) or --truth-from-target, "
                               "not both")
    roles = [r for r in SAMPLE_ROLES if r in paths]
    seen: dict[Path, str] = {}
    for r in roles:
        key = paths[r].resolve()
        if key in seen:
            raise DeltaTheoryError(f"the {seen[key]} and the {r} are the same samples file "
                                   f"({paths[r]}): each role needs its own model's file")
        seen[key] = r
    named = [(r, t) for r in roles if (t := _task_from_name(paths[r])) is not None]
    for r, t in named[1:]:
        if t != named[0][1]:
            raise DeltaTheoryError(f"the sample files are from different tasks: the "
                                   f"{named[0][0]}'s is {named[0][1]!r}, the {r}'s {t!r} (from "
                                   "their file names)")
    read, filters = {}, {}
    for r in roles:
        read[r], filters[r] = _read_samples(paths[r], r, metric, filter)
    if len(set(filters.values())) > 1:
        raise DeltaTheoryError("the sample files log different filters ("
                               + ", ".join(f"{r}: {f}" for r, f in filters.items())
                               + "): choose one with --filter")
    base = read["student"]
    for r in roles[1:]:
        only_base = sorted(set(base) - set(read[r]), key=str)
        only_r = sorted(set(read[r]) - set(base), key=str)
        if only_base or only_r:
            d, have, lack = ((only_base[0], "student", r) if only_base else
                             (only_r[0], r, "student"))
            raise DeltaTheoryError(
                f"doc_id {d!r} is in the {have}'s samples but not in the {lack}'s "
                f"({len(only_base)} of the student's items missing from the {r}'s, "
                f"{len(only_r)} of the {r}'s not in the student's): every model must be "
                "evaluated on the same items")
    ids = sorted(base, key=lambda d: (isinstance(d, str), d))
    for r in roles[1:]:
        for d in ids:
            a, b = base[d], read[r][d]
            if str(a.get("target")) != str(b.get("target")):
                raise DeltaTheoryError(
                    f"doc_id {d!r} has target {str(a.get('target'))!r} in the student's samples "
                    f"and {str(b.get('target'))!r} in the {r}'s: files from different tasks")
            ia, ib = _item(a), _item(b)
            if ia is not None and ib is not None and ia[0] == ib[0] and ia != ib:
                raise DeltaTheoryError(
                    f"doc_id {d!r} is a different item in the student's samples and the {r}'s "
                    f"(its {'document' if ia[0] == 'doc' else 'doc_hash'} differs): files from "
                    "different tasks")
    right = {r: np.array([_zero_one(read[r][d][metric]) for d in ids], dtype=np.int8)
             for r in roles}
    labels = np.ones((len(ids), 4), dtype=np.int8)
    if truth_from_target or "truth" in paths:
        truth = _binary_truth(base, ids, paths["student"])
        for m, r in enumerate(ROLES):
            if r in right:  # the answer given: the target when right, the other one when wrong
                labels[:, m] = np.where(right[r] == 1, truth, 1 - truth)
        if truth_from_target:
            labels[:, 0] = truth
        reading = "target" if truth_from_target else "model"
    else:
        for m, r in enumerate(ROLES[1:], 1):
            labels[:, m] = right[r]
        reading = "correctness"
    info = {"task": named[0][1] if named else None, "metric": metric,
            "filter": filters["student"], "truth": reading, "n_items": len(ids),
            "files": {r: str(paths[r]) for r in roles}}
    return labels, info


def bridge_lm_eval(samples, *, metric: str = "acc", filter: str | None = None,
                   truth_from_target: bool = False, bootstrap: int = 2000,
                   seed: int = 0) -> tuple[BridgeResult, dict]:
    """:func:`read_lm_eval_samples` then :func:`estimate`; returns the result and what was
    read."""
    y, info = read_lm_eval_samples(samples, metric=metric, filter=filter,
                                   truth_from_target=truth_from_target)
    return estimate(y, bootstrap=bootstrap, seed=seed), info
