"""The ladder: the bridge's predictions against what DPO actually did, on real models.

A student and a ladder of teachers (derived rungs such as ``NAME@prune-0.3``, or any other
model) answer a binary task (``arithmetic-choice``) by log-probability choice
(:mod:`llm.choice`). For every pair of rungs (chosen = the earlier one in the list):

1. **Predict.** The bridge (:mod:`deltatheory.bridge`) reads the truth's, the student's and the
   two teachers' labels on the held-out items and returns κ with a bootstrap CI, the predicted
   gain and P[κ > 0].
2. **Observe.** DPO trains the student on the training items where the two teachers disagree
   (chosen = the chosen teacher's answer; agreeing items carry no signal, as in the theory), and
   the student's accuracy change on the held-out items is measured with a paired bootstrap CI.
3. **Control.** The same with chosen and rejected swapped (``reversed``): κ flips sign exactly.

The run folder holds ``config.json``, ``labels/<model>.json`` (each model's margins on the
items), ``predictions.csv`` (the held-out labels, a column per model: a bridge input),
``arms/<arm>/metrics.json`` (an arm with it is done; a rerun skips it), and ``ladder.json``,
``ladder.md`` and ``ladder.png`` (predicted κ against observed gain with Spearman ρ and its CI).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import time
from pathlib import Path

import numpy as np

from deltatheory._io import atomic_path, write_json
from deltatheory.errors import DeltaTheoryError

__all__ = ["DEFAULTS", "load_config", "run", "spearman_ci", "paired_diff_ci"]

DEFAULTS = {
    "name": "ladder",
    "student": "smollm2-135m-instruct",
    "rungs": ["smollm2-135m-instruct@prune-0.3", "smollm2-135m-instruct@prune-0.4"],
    "task": "arithmetic-choice",
    "seed": 0,
    "items": {"train": 600, "test": 600},
    "dtype": "bfloat16",
    "batch_size": 32,
    "reversed": True,
    "bootstrap": 2000,
    "train": {"method": "dpo", "learning_rate": 2.0e-4, "epochs": 1, "batch_size": 8,
              "lora": True, "lora_r": 16, "dtype": "bf16", "max_length": 128},
    "quick": {"items": {"train": 48, "test": 40}, "train": {"max_steps": 2, "batch_size": 4}},
}
_DTYPES = ("bfloat16", "float32")


def load_config(path: str | Path | None = None, *, quick: bool = False,
                overrides: dict | None = None) -> dict:
    """Defaults ⊕ the YAML file ⊕ ``overrides`` (⊕ the ``quick`` block when ``quick``)."""
    from .experiment import layered_config
    from ..tasks import get_task
    from ..train import TrainConfig

    cfg = layered_config(DEFAULTS, path, quick=quick, overrides=overrides, extend_train=True)
    rungs = cfg["rungs"]
    if not isinstance(rungs, list) or len(rungs) < 2 or len(set(rungs)) != len(rungs):
        raise DeltaTheoryError(f"rungs={rungs!r} must list at least two different models")
    if cfg["student"] in rungs:
        raise DeltaTheoryError(f"the student {cfg['student']!r} cannot also be a rung")
    if cfg["dtype"] not in _DTYPES:
        raise DeltaTheoryError(f"dtype {cfg['dtype']!r} is not one of {', '.join(_DTYPES)}")
    for k in ("train", "test"):
        if int(cfg["items"][k]) < 1:
            raise DeltaTheoryError(f"items.{k}={cfg['items'][k]} must be at least 1")
    fields = set(TrainConfig.__dataclass_fields__)
    for k in cfg["train"]:
        if k not in fields:
            raise DeltaTheoryError(f"config key train.{k!r} does not exist; known: "
                                   f"{', '.join(sorted(fields))}")
    tc = TrainConfig(**cfg["train"])
    if tc.method in ("sft", "dadpo", "weighted"):
        raise DeltaTheoryError(f"train.method {tc.method!r} is not a pairwise preference loss; "
                               "the ladder uses dpo, dpo-norm, ipo or simpo")
    task = get_task(cfg["task"])
    if not task.binary or not task.prompts("test", 1, 0)[0].get("candidates"):
        raise DeltaTheoryError(f"task {cfg['task']!r} is not a two-candidate binary task; the "
                               "ladder needs one such as arithmetic-choice")
    return cfg


def arms(cfg: dict) -> list[dict]:
    """Every (chosen, rejected) pair of rungs, chosen = the earlier rung; plus reversed."""
    out = []
    for i, j in itertools.combinations(range(len(cfg["rungs"])), 2):
        c, r = cfg["rungs"][i], cfg["rungs"][j]
        out.append({"name": f"{i}-over-{j}", "chosen": c, "rejected": r, "control": "none"})
        if cfg["reversed"]:
            out.append({"name": f"{j}-over-{i}-reversed", "chosen": r, "rejected": c,
                        "control": "reversed"})
    return out


def paired_diff_ci(before, after, n: int = 2000, seed: int = 0) -> list[float]:
    """Percentile bootstrap 95 % CI of mean(after − before), resampling items."""
    d = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(d), size=(n, len(d)))
    m = d[idx].mean(1)
    return [float(np.percentile(m, 2.5)), float(np.percentile(m, 97.5))]


def spearman_ci(x, y, n: int = 2000, seed: int = 0) -> dict:
    """Spearman ρ with a percentile bootstrap 95 % CI over the points.

    A resample in which x or y is constant has no ρ; such resamples are dropped and counted
    (``degenerate``) rather than turning the whole interval into nan.
    """
    import warnings

    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    nan2 = [float("nan"), float("nan")]
    if len(x) < 3:
        return {"rho": float("nan"), "ci95": nan2, "n": len(x), "degenerate": 0}
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n, len(x)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        rho = float(stats.spearmanr(x, y).statistic)
        boot = np.array([stats.spearmanr(x[i], y[i]).statistic for i in idx])
    ok = boot[np.isfinite(boot)]
    ci = [float(np.percentile(ok, 2.5)), float(np.percentile(ok, 97.5))] if len(ok) else nan2
    return {"rho": rho, "ci95": ci, "n": len(x), "degenerate": int(n - len(ok))}


def _labels(spec: str, rows_by_split: dict, cfg: dict, folder: Path, *, model=None,
            tokenizer=None, tag: str | None = None) -> dict:
    """Margins of ``spec`` on every split (cached in labels/<tag>.json)."""
    from ..choice import choice_margins
    from ..models import load

    path = folder / "labels" / ((tag or spec).replace("/", "__") + ".json")
    if path.exists():
        return json.loads(path.read_text())
    import torch

    if model is None:
        model, tokenizer = load(spec, dtype=cfg["dtype"])
    else:
        model = model.to(getattr(torch, cfg["dtype"]))
    out = {split: choice_margins(model, tokenizer, rows, batch_size=cfg["batch_size"],
                                 desc=f"{tag or spec} / {split}").tolist()
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


def _short(spec: str, student: str) -> str:
    return spec[len(student) + 1:] if spec.startswith(student + "@") else spec


def run(config: dict, out: str | Path, *, progress=print) -> dict:
    """Run the ladder of ``config`` into ``out`` (resumable); returns the summary."""
    from datasets import Dataset

    from deltatheory.bridge import estimate

    from .experiment import _reward_stats, arm_folder, open_run
    from ..models import load
    from ..pairs import diagnostics, make_pairs, save_pairs
    from ..tasks import get_task
    from ..train import TrainConfig, train

    out = open_run(out, config)
    task = get_task(config["task"])
    seed = config["seed"]
    rows = {s: task.prompts(s, int(config["items"][s]), seed) for s in ("train", "test")}
    truth = {s: np.array([r["truth"] for r in rows[s]]) for s in rows}
    student, rungs = config["student"], config["rungs"]
    short = {m: _short(m, student) for m in [student, *rungs]}
    short[student] = "student"
    t0 = time.perf_counter()
    labels = {}
    for m in [student, *rungs]:
        progress(f"scoring {short[m]} on {sum(map(len, rows.values()))} items")
        labels[m] = _labels(m, rows, config, out)
    lab = {m: {s: (np.array(v[s]) > 0).astype(int) for s in v} for m, v in labels.items()}
    _predictions_csv(out / "predictions.csv", rows["test"], [student, *rungs], labels, short)
    scoring_s = round(time.perf_counter() - t0, 1)
    acc = {short[m]: {s: float(np.mean(lab[m][s] == truth[s])) for s in rows} for m in lab}
    before = (lab[student]["test"] == truth["test"]).astype(float)
    margin_before = np.array(labels[student]["test"]) * (2 * truth["test"] - 1)
    results = []
    for arm in arms(config):
        folder, earlier = arm_folder(out, arm["name"], progress)
        if earlier is not None:
            results.append(earlier)
            continue
        done = folder / "metrics.json"
        t1 = time.perf_counter()
        c, r = arm["chosen"], arm["rejected"]
        metrics = {"arm": arm["name"], "chosen": short[c], "rejected": short[r],
                   "control": arm["control"]}
        y = np.stack([truth["test"], lab[student]["test"], lab[c]["test"], lab[r]["test"]], 1)
        try:
            b = estimate(y, bootstrap=config["bootstrap"], seed=seed)
            metrics["bridge"] = b.to_dict()
        except DeltaTheoryError as e:
            metrics["bridge"] = None
            metrics["bridge_error"] = str(e)
        # pairs: training items where the two teachers choose different candidates
        table = [{"id": row["id"], "prompt": row["prompt"],
                  c: row["candidates"][1 - lab[c]["train"][i]],
                  r: row["candidates"][1 - lab[r]["train"][i]]}
                 for i, row in enumerate(rows["train"])]
        try:
            pairs = make_pairs(table, chosen=c, rejected=r, drop_identical=True, seed=seed)
        except DeltaTheoryError as e:
            pairs = []
            metrics["train_error"] = str(e)
        metrics["n_pairs"] = len(pairs)
        if pairs:
            correct = {row["id"]: row["candidates"][1 - row["truth"]] for row in rows["train"]}
            metrics["chosen_correct_rate"] = float(np.mean(
                [p["chosen"][0]["content"] == correct[p["id"]] for p in pairs]))
            save_pairs(pairs, folder / "pairs")
            model, tok = load(student)
            metrics["pair_diagnostics"] = diagnostics(pairs, tok)
            tcfg = TrainConfig(**{**config["train"], "seed": seed})
            progress(f"arm {arm['name']}: DPO on {len(pairs)} pairs ({short[c]} > {short[r]})")
            model, tok, log = train(student, Dataset.from_list(pairs), folder, tcfg, model=model,
                                    tokenizer=tok, save=False)
            metrics.update(_reward_stats(log))
            metrics["train_config"] = dataclasses.asdict(tcfg)
            after_m = np.array(_labels(student, {"test": rows["test"]}, config, folder,
                                       model=model, tokenizer=tok, tag="trained")["test"])
            del model
        else:
            after_m = np.array(labels[student]["test"])
        after = ((after_m > 0).astype(int) == truth["test"]).astype(float)
        margin_after = after_m * (2 * truth["test"] - 1)
        metrics.update(
            accuracy_before=float(before.mean()), accuracy_after=float(after.mean()),
            observed_gain=float(after.mean() - before.mean()),
            observed_gain_ci95=paired_diff_ci(before, after, config["bootstrap"], seed),
            margin_change=float(np.mean(margin_after - margin_before)),
            margin_change_ci95=paired_diff_ci(margin_before, margin_after,
                                              config["bootstrap"], seed),
            seconds=round(time.perf_counter() - t1, 1))
        write_json(done, metrics)
        results.append(metrics)
    ok = [a for a in results if a.get("bridge")]
    rho = spearman_ci([a["bridge"]["kappa"] for a in ok], [a["observed_gain"] for a in ok],
                      config["bootstrap"], seed)
    fwd = [a for a in ok if a["control"] == "none"]
    rho_fwd = spearman_ci([a["bridge"]["kappa"] for a in fwd], [a["observed_gain"] for a in fwd],
                          config["bootstrap"], seed)
    sign = [np.sign(a["bridge"]["kappa"]) == np.sign(a["observed_gain"]) for a in ok
            if a["observed_gain"] != 0]
    summary = {"config": config, "accuracy": acc, "arms": results, "spearman": rho,
               "spearman_without_controls": rho_fwd,
               "sign_agreement": float(np.mean(sign)) if sign else None,
               "scoring_seconds": scoring_s}
    write_json(out / "ladder.json", summary)
    with atomic_path(out / "ladder.md") as tmp:
        tmp.write_text(markdown(summary))
    from deltatheory.figures import fig7_ladder
    from deltatheory.figures._common import render

    render(fig7_ladder.plot, summary, out / "ladder.png")
    return summary


def markdown(s: dict) -> str:
    """The ladder's results table (Markdown)."""
    acc = ", ".join(f"{m} {v['test']:.3f}" for m, v in s["accuracy"].items())
    lines = [f"Held-out accuracy before training: {acc}", "",
             "| arm | chosen > rejected | pairs | predicted κ [95 % CI] | P[κ>0] | "
             "predicted gain (pts) | observed gain (pts) [95 % CI] |",
             "|---|---|---|---|---|---|---|"]
    for a in s["arms"]:
        b = a.get("bridge")
        pred = (f"{b['kappa']:+.3f} [{b['kappa_ci95'][0]:+.3f}, {b['kappa_ci95'][1]:+.3f}]"
                if b else f"— ({a.get('bridge_error', '')})")
        lines.append(
            f"| {a['arm']} | {a['chosen']} > {a['rejected']} | {a['n_pairs']} | {pred} | "
            f"{b['p_improve']:.2f} | {100 * b['predicted_gain']:+.2f} | " if b else
            f"| {a['arm']} | {a['chosen']} > {a['rejected']} | {a['n_pairs']} | {pred} | | | ")
        ci = a["observed_gain_ci95"]
        lines[-1] += (f"{100 * a['observed_gain']:+.2f} [{100 * ci[0]:+.2f}, "
                      f"{100 * ci[1]:+.2f}] |")
    r = s["spearman"]
    lines += ["", f"Spearman ρ (predicted κ vs observed gain, {r['n']} arms): {r['rho']:.2f} "
              f"[{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]"]
    f = s.get("spearman_without_controls")
    if f:
        lines.append(f"Spearman ρ without the reversed controls ({f['n']} arms): {f['rho']:.2f} "
                     f"[{f['ci95'][0]:.2f}, {f['ci95'][1]:.2f}]")
    if s.get("sign_agreement") is not None:
        lines.append(f"Sign agreement (κ > 0 vs gain > 0): {s['sign_agreement']:.2f}")
    return "\n".join(lines) + "\n"
