"""The ladder recipe: the bridge's predictions against what DPO actually did, on real models.

A student and a ladder of teachers (derived rungs such as ``NAME@prune-0.3``, or any other
model) answer a binary task (``arithmetic-choice``) by log-probability choice
(:mod:`deltatheory.llm.choice`). For every pair of rungs (chosen = the earlier one in the list):

1. **Predict.** The bridge (:mod:`deltatheory.bridge`) reads the truth's, the student's and the
   two teachers' labels on the held-out items and returns κ with a bootstrap CI, the predicted
   gain and P[κ > 0].
2. **Observe.** DPO trains the student on the training items where the two teachers disagree
   (chosen = the chosen teacher's answer; agreeing items carry no signal, as in the theory), and
   the student's accuracy change on the held-out items is measured with a paired bootstrap CI.
3. **Control.** The same with chosen and rejected swapped (``reversed``): κ flips sign exactly.

Read :func:`run` top to bottom: it is the whole recipe. The run folder holds ``config.json``,
``labels/<model>.<key>.json`` (each model's margins on the items, keyed by the model's identity
and the scoring settings), ``predictions.csv`` (the held-out labels, a column per model: a bridge
input), ``arms/<arm>/metrics.json`` (an arm with it is done; a rerun skips it), and
``ladder.json``, ``ladder.md`` and ``ladder.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deltatheory._io import atomic_path, write_json
from deltatheory.errors import DeltaTheoryError
from deltatheory.results import LadderArm, LadderSummary
from deltatheory.stats import Spearman, paired_diff_ci, spearman_ci

from ..config import build, merge, read_yaml, to_dict
from ..pairs import diagnostics, make_pairs
from ..runs import Run
from ..tasks import get_task
from ..train import TrainConfig, reward_stats

__all__ = ["Items", "LadderConfig", "LadderArm", "LadderSummary", "load_config", "arms", "run",
           "markdown"]


@dataclass(frozen=True)
class Items:
    train: int = 600
    test: int = 600


def _ladder_train() -> TrainConfig:
    # the study's own training settings, visible here (TrainConfig holds the rest)
    return TrainConfig(method="dpo", learning_rate=2.0e-4, batch_size=8, max_length=128)


def _quick() -> dict:
    return {"items": {"train": 48, "test": 40}, "train": {"max_steps": 2, "batch_size": 4}}


@dataclass(frozen=True)
class LadderConfig:
    """Every default of the ladder, in one place."""

    name: str = "ladder"
    student: str = "smollm2-135m-instruct"
    rungs: list[str] = field(default_factory=lambda: ["smollm2-135m-instruct@prune-0.3",
                                                      "smollm2-135m-instruct@prune-0.4"])
    task: str = "arithmetic-choice"
    seed: int = 0
    items: Items = field(default_factory=Items)
    dtype: str = "bf16"  # scoring dtype
    batch_size: int = 32  # scoring batch
    reversed: bool = True
    bootstrap: int = 2000
    train: TrainConfig = field(default_factory=_ladder_train)
    quick: dict = field(default_factory=_quick)
    quick_mode: bool = False


def load_config(path: str | Path | None = None, *, quick: bool = False,
                overrides: dict | None = None) -> LadderConfig:
    """Defaults ⊕ the YAML file ⊕ ``overrides`` (⊕ the ``quick`` block when ``quick``)."""
    from ..models import normalize_dtype, parse_spec

    cfg = build(LadderConfig, read_yaml(path) if path is not None else {})
    if overrides:
        cfg = merge(cfg, overrides)
    if quick:
        cfg = merge(cfg, cfg.quick, "quick.")
    cfg = dataclasses.replace(cfg, quick_mode=bool(quick), dtype=normalize_dtype(cfg.dtype))
    rungs = cfg.rungs
    if len(rungs) < 2 or len(set(rungs)) != len(rungs):
        raise DeltaTheoryError(f"rungs={rungs!r} must list at least two different models")
    if cfg.student in rungs:
        raise DeltaTheoryError(f"the student {cfg.student!r} cannot also be a rung")
    for m in [cfg.student, *rungs]:
        parse_spec(m)
    for k in ("train", "test"):
        if getattr(cfg.items, k) < 1:
            raise DeltaTheoryError(f"items.{k}={getattr(cfg.items, k)} must be at least 1")
    if cfg.batch_size < 1 or cfg.bootstrap < 100:
        raise DeltaTheoryError(f"batch_size={cfg.batch_size} must be >= 1 and "
                               f"bootstrap={cfg.bootstrap} >= 100")
    if cfg.train.method in ("sft", "dadpo", "weighted"):
        raise DeltaTheoryError(f"train.method {cfg.train.method!r} is not a pairwise preference "
                               "loss; the ladder uses dpo, dpo-norm, ipo or simpo")
    task = get_task(cfg.task)
    if not task.binary or not task.prompts("test", 1, 0)[0].get("candidates"):
        raise DeltaTheoryError(f"task {cfg.task!r} is not a two-candidate binary task; the "
                               "ladder needs one such as arithmetic-choice")
    return cfg


def arms(cfg: LadderConfig) -> list[dict]:
    """Every (chosen, rejected) pair of rungs, chosen = the earlier rung; plus reversed."""
    out = []
    for i, j in itertools.combinations(range(len(cfg.rungs)), 2):
        c, r = cfg.rungs[i], cfg.rungs[j]
        out.append({"name": f"{i}-over-{j}", "chosen": c, "rejected": r, "control": "none"})
        if cfg.reversed:
            out.append({"name": f"{j}-over-{i}-reversed", "chosen": r, "rejected": c,
                        "control": "reversed"})
    return out


def _short(spec: str, student: str) -> str:
    return "student" if spec == student else (
        spec[len(student) + 1:] if spec.startswith(student + "@") else spec)


def margins(spec: str, rows_by_split: dict, cfg: LadderConfig, folder: Path, *, model=None,
            tokenizer=None) -> dict:
    """Choice margins of a model on every split, cached under ``labels/`` by everything that
    determines them: the model's identity (content hash, or the fingerprint of a model in
    memory), the scoring dtype and batch, and the items."""
    import torch

    from ..choice import choice_margins
    from ..generate import model_identity
    from ..models import load

    ident = model_identity(spec, model)
    items = {s: [r["id"] + "|" + json.dumps(r["candidates"]) for r in rows]
             for s, rows in rows_by_split.items()}
    key = hashlib.sha256(json.dumps([ident, cfg.dtype, cfg.batch_size, items],
                                    sort_keys=True).encode()).hexdigest()[:12]
    path = folder / "labels" / (spec.replace("/", "__") + f".{key}.json")
    if path.exists():
        return json.loads(path.read_text())
    if model is None:
        model, tokenizer = load(spec, dtype=cfg.dtype)
    else:
        model = model.to(torch.bfloat16 if cfg.dtype == "bf16" else torch.float32)
    out = {split: choice_margins(model, tokenizer, rows, batch_size=cfg.batch_size,
                                 desc=f"{_short(spec, cfg.student)} / {split}").tolist()
           for split, rows in rows_by_split.items()}
    write_json(path, out)
    return out


def _predictions_csv(path: Path, test_rows, models, labels, short) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "truth", *(short[m] for m in models)])
    for i, r in enumerate(test_rows):
        w.writerow([r["id"], r["truth"], *(int(labels[m]["test"][i] > 0) for m in models)])
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def disagreement_pairs(rows: list[dict], chosen_labels, rejected_labels, seed: int) -> list:
    """DPO pairs on the items where two teachers pick different candidates (chosen = the chosen
    teacher's pick). Agreeing items carry no delta and are left out, as in the theory."""
    table = [{"id": row["id"], "prompt": row["prompt"],
              "c": row["candidates"][1 - chosen_labels[i]],
              "r": row["candidates"][1 - rejected_labels[i]]} for i, row in enumerate(rows)]
    return make_pairs(table, chosen="c", rejected="r", drop_identical=True, seed=seed)


def run(config: LadderConfig, out: str | Path, *, progress=print) -> LadderSummary:
    """Run the ladder of ``config`` into ``out`` (resumable); returns the summary."""
    from datasets import Dataset

    from deltatheory.bridge import estimate

    from ..models import fingerprint, load
    from ..train import train

    the_run = Run.open(out, to_dict(config), models=[config.student, *config.rungs])
    task = get_task(config.task)
    seed, student, rungs = config.seed, config.student, config.rungs
    rows = {s: task.prompts(s, getattr(config.items, s), seed) for s in ("train", "test")}
    truth = {s: np.array([r["truth"] for r in rows[s]]) for s in rows}
    short = {m: _short(m, student) for m in [student, *rungs]}

    # 1. every model's choice on every item (cached), and the bridge's input file
    t0 = time.perf_counter()
    margin = {}
    for m in [student, *rungs]:
        progress(f"scoring {short[m]} on {sum(map(len, rows.values()))} items")
        margin[m] = margins(m, rows, config, the_run.folder)
    label = {m: {s: (np.array(v[s]) > 0).astype(int) for s in v} for m, v in margin.items()}
    _predictions_csv(the_run.folder / "predictions.csv", rows["test"], [student, *rungs],
                     margin, short)
    scoring_s = round(time.perf_counter() - t0, 1)
    acc = {short[m]: {s: float(np.mean(label[m][s] == truth[s])) for s in rows} for m in label}
    before = (label[student]["test"] == truth["test"]).astype(float)
    margin_before = np.array(margin[student]["test"]) * (2 * truth["test"] - 1)

    def one_arm(arm: dict, folder: Path) -> dict:
        c, r = arm["chosen"], arm["rejected"]
        metrics = {"arm": arm["name"], "chosen": short[c], "rejected": short[r],
                   "control": arm["control"]}
        # 2. predict: the bridge on the held-out labels
        y = np.stack([truth["test"], label[student]["test"], label[c]["test"],
                      label[r]["test"]], 1)
        try:
            metrics["bridge"] = estimate(y, bootstrap=config.bootstrap, seed=seed).to_dict()
        except DeltaTheoryError as e:
            metrics.update(bridge=None, bridge_error=str(e))
        # 3. observe: DPO on the training items where the two teachers disagree
        try:
            pairs = disagreement_pairs(rows["train"], label[c]["train"], label[r]["train"], seed)
        except DeltaTheoryError as e:
            pairs = []
            metrics["train_error"] = str(e)
        metrics["n_pairs"] = len(pairs)
        after_m = np.array(margin[student]["test"])
        if pairs:
            right = {row["id"]: row["candidates"][1 - row["truth"]] for row in rows["train"]}
            metrics["chosen_correct_rate"] = float(np.mean(
                [p["chosen"][0]["content"] == right[p["id"]] for p in pairs]))
            model, tok = load(student)
            metrics["pair_diagnostics"] = diagnostics(pairs, tok)
            tcfg = merge(config.train, {"seed": seed})
            progress(f"arm {arm['name']}: {tcfg.method} on {len(pairs)} pairs "
                     f"({short[c]} > {short[r]})")
            model, tok, log = train(student, Dataset.from_list(pairs), folder, tcfg, model=model,
                                    tokenizer=tok, save=False)
            metrics.update(reward_stats(log), train_config=dataclasses.asdict(tcfg),
                           trained_fingerprint=fingerprint(model))
            after_m = np.array(margins(student, {"test": rows["test"]}, config, folder,
                                       model=model, tokenizer=tok)["test"])
            del model
        after = ((after_m > 0).astype(int) == truth["test"]).astype(float)
        margin_after = after_m * (2 * truth["test"] - 1)
        metrics.update(
            accuracy_before=float(before.mean()), accuracy_after=float(after.mean()),
            observed_gain=float(after.mean() - before.mean()),
            observed_gain_ci95=paired_diff_ci(before, after, config.bootstrap, seed),
            margin_change=float(np.mean(margin_after - margin_before)),
            margin_change_ci95=paired_diff_ci(margin_before, margin_after, config.bootstrap,
                                              seed))
        return metrics

    results = the_run.each(arms(config), lambda a: a["name"], one_arm,
                           load=LadderArm.from_dict, progress=progress)

    # 4. does κ rank what DPO did?
    ok = [a for a in results if a.bridge]
    fwd = [a for a in ok if a.control == "none"]
    sign = [np.sign(a.bridge["kappa"]) == np.sign(a.observed_gain) for a in ok
            if a.observed_gain != 0]
    summary = LadderSummary(
        config=to_dict(config), accuracy=acc, arms=results,
        spearman=spearman_ci([a.bridge["kappa"] for a in ok], [a.observed_gain for a in ok],
                             config.bootstrap, seed),
        spearman_without_controls=spearman_ci([a.bridge["kappa"] for a in fwd],
                                              [a.observed_gain for a in fwd], config.bootstrap,
                                              seed),
        sign_agreement=float(np.mean(sign)) if sign else None, scoring_seconds=scoring_s)
    write_json(the_run.folder / "ladder.json", summary.to_dict())
    with atomic_path(the_run.folder / "ladder.md") as tmp:
        tmp.write_text(markdown(summary))
    from deltatheory.figures import fig7_ladder, render

    render(fig7_ladder.plot, summary.to_dict(), the_run.folder / "ladder.png")
    return summary


def _rho(r: Spearman) -> str:
    if r.rho is None:
        return f"n/a ({r.why})"
    ci = f" [{r.ci95[0]:.2f}, {r.ci95[1]:.2f}]" if r.ci95 else ""
    return f"{r.rho:.2f}{ci}"


def markdown(s: LadderSummary) -> str:
    """The ladder's results table (Markdown)."""
    acc = ", ".join(f"{m} {v['test']:.3f}" for m, v in s.accuracy.items())
    lines = [f"Held-out accuracy before training: {acc}", "",
             "| arm | chosen > rejected | pairs | predicted κ [95 % CI] | P[κ>0] | "
             "predicted gain (pts) | observed gain (pts) [95 % CI] |",
             "|---|---|---|---|---|---|---|"]
    for a in s.arms:
        b = a.bridge
        if b:
            kci = b["kappa_ci95"]
            pred = (f"{b['kappa']:+.3f} [{kci[0]:+.3f}, {kci[1]:+.3f}] | {b['p_improve']:.2f} | "
                    f"{100 * b['predicted_gain']:+.2f}")
        else:
            pred = f"— ({a.bridge_error}) | | "
        ci = a.observed_gain_ci95
        obs = f"{100 * a.observed_gain:+.2f}" + (
            f" [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]" if ci else "")
        lines.append(f"| {a.arm} | {a.chosen} > {a.rejected} | {a.n_pairs} | {pred} | {obs} |")
    lines += ["", f"Spearman ρ (predicted κ vs observed gain, {s.spearman.n} arms): "
              f"{_rho(s.spearman)}",
              f"Spearman ρ without the reversed controls ({s.spearman_without_controls.n} "
              f"arms): {_rho(s.spearman_without_controls)}"]
    if s.sign_agreement is not None:
        lines.append(f"Sign agreement (κ > 0 vs gain > 0): {s.sign_agreement:.2f}")
    return "\n".join(lines) + "\n"
