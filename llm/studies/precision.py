"""bf16 against float32 scoring on the shipped ladder (issue 22): how many labels flip, and can
the flips move a reported number?

The ladder scores every teacher's choice in bf16 (about 2x faster than float32 on this CPU).
bf16 is not order-stable: the same model's margins change with how a computation is batched.
This study scores every teacher of the shipped ladder on the study's own train and test items
in both dtypes (cached under ``OUT/labels/`` exactly as the ladder caches them, so a rerun
resumes per model), then measures

* per model and split: the share of labels that differ, and the margin differences;
* whether the bf16 test labels are the shipped ones (``experiments/results/ladder/
  predictions.csv``), i.e. that this re-scoring reproduces the study;
* everything the ladder computes from labels alone, redone from the float32 labels: the rung
  accuracies, each pair's disagreement pairs and chosen-on-disagreements accuracy, the bridge's
  κ and each simple predictor, and their Spearman ρ against the shipped DPO gains.

The DPO gains themselves are scored in bf16 too; the student's own bf16 and float32 held-out
accuracy bound what scoring precision does to a gain's baseline (the trained models are not
shipped, so their float32 scores would need retraining).

    python -m deltatheory.llm.studies.precision --out results/precision
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from deltatheory._io import write_json

from ..tasks import get_task
from . import ladder

__all__ = ["score", "analyse", "markdown", "main"]

SHIPPED = Path(__file__).resolve().parents[2] / "experiments" / "results" / "ladder"


def score(out: str | Path, *, progress=print) -> dict:
    """Margins of every teacher of the shipped ladder in float32 and bf16 (cached, resumable):
    {dtype: {model: {split: [margin, …]}}}."""
    cfg = ladder.load_config(ladder.STUDY)
    cfg32 = dataclasses.replace(cfg, dtype="fp32")
    task = get_task(cfg.task)
    rows = {s: task.prompts(s, getattr(cfg.items, s), cfg.seed) for s in ("train", "test")}
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    got: dict = {"fp32": {}, "bf16": {}}
    for c, name in ((cfg32, "fp32"), (cfg, "bf16")):
        for m in ladder.teachers(cfg):
            t0 = time.perf_counter()
            info: dict = {}
            got[name][m] = ladder.margins(m, rows, c, folder, info=info)
            progress(f"{name} {ladder.short_name(m, cfg.student)}: "
                     f"{'cached' if info['cached'] else f'{time.perf_counter() - t0:.0f} s'}")
    return got


def _shipped_labels() -> dict[str, np.ndarray]:
    with open(SHIPPED / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([int(r[k]) for r in rows]) for k in rows[0] if k != "id"}


def analyse(margins: dict) -> dict:
    """Flip rates, reproduction of the shipped labels, and every label-only number of the
    shipped ladder redone from the float32 labels (see the module docstring)."""
    from deltatheory.bridge import estimate
    from deltatheory.stats import spearman_ci

    cfg = ladder.load_config(ladder.STUDY)
    task = get_task(cfg.task)
    rows = {s: task.prompts(s, getattr(cfg.items, s), cfg.seed) for s in ("train", "test")}
    truth = {s: np.array([r["truth"] for r in rows[s]]) for s in rows}
    short = {m: ladder.short_name(m, cfg.student) for m in ladder.teachers(cfg)}
    lab = {d: {m: {s: (np.array(v[s]) > 0).astype(int) for s in v} for m, v in got.items()}
           for d, got in margins.items()}
    shipped = _shipped_labels()
    models = {}
    for m, name in short.items():
        rec = {}
        for s in ("train", "test"):
            a, b = np.array(margins["bf16"][m][s]), np.array(margins["fp32"][m][s])
            rec[s] = {"flip_rate": float(np.mean((a > 0) != (b > 0))),
                      "flips": int(np.sum((a > 0) != (b > 0))),
                      "median_abs_margin_diff": float(np.median(np.abs(a - b))),
                      "max_abs_margin_diff": float(np.max(np.abs(a - b))),
                      "accuracy_bf16": float(np.mean(lab["bf16"][m][s] == truth[s])),
                      "accuracy_fp32": float(np.mean(lab["fp32"][m][s] == truth[s]))}
        rec["bf16_test_labels_equal_shipped"] = bool(
            np.array_equal(lab["bf16"][m]["test"], shipped[name]))
        models[name] = rec
    summary = json.loads((SHIPPED / "ladder.json").read_text())
    gains = {p["pair"]: p["dpo_gain"] for p in summary["pairs"]}
    right = {r["id"]: r["candidates"][1 - r["truth"]] for r in rows["train"]}
    pairs = {}
    for c, r in ladder._pairs(cfg):
        name = ladder.pair_name(c, r, cfg.student)
        rec = {}
        for d in ("bf16", "fp32"):
            L = lab[d]
            acc = {m: float(np.mean(L[m]["test"] == truth["test"])) for m in (c, r)}
            y = np.stack([truth["test"], L[cfg.student]["test"], L[c]["test"], L[r]["test"]], 1)
            ps = ladder.disagreement_pairs(rows["train"], L[c]["train"], L[r]["train"], cfg.seed)
            rec[d] = {"kappa": estimate(y, bootstrap=100, seed=cfg.seed).kappa,
                      "accuracy_gap": acc[c] - acc[r], "n_pairs": len(ps),
                      "chosen_accuracy_on_disagreements": float(np.mean(
                          [p["chosen"][0]["content"] == right[p["id"]] for p in ps])),
                      "ids": sorted(p["id"] for p in ps)}
        b, f = set(rec["bf16"].pop("ids")), set(rec["fp32"].pop("ids"))
        rec["training_items_that_change"] = len(b ^ f)
        rec["shipped_dpo_gain"] = gains[name]
        pairs[name] = rec
    rho = {}
    for key in ("kappa", "accuracy_gap", "chosen_accuracy_on_disagreements"):
        rho[key] = {d: spearman_ci([p[d][key] for p in pairs.values()],
                                   [p["shipped_dpo_gain"] for p in pairs.values()],
                                   cfg.bootstrap, cfg.seed).rho for d in ("bf16", "fp32")}
    return {"models": models, "pairs": pairs, "spearman_against_shipped_gains": rho,
            "student_test_accuracy": {d: models["student"]["test"][f"accuracy_{d}"]
                                      for d in ("bf16", "fp32")}}


def markdown(a: dict) -> str:
    lines = ["Labels that differ between bf16 and float32 scoring (the shipped ladder's "
             "teachers, its 1,000 train and 2,000 test items):", "",
             "| model | train flips | test flips | median / max margin diff (nats, test) | "
             "test accuracy bf16 → fp32 | bf16 = shipped labels |", "|---|---|---|---|---|---|"]
    for m, r in a["models"].items():
        t = r["test"]
        lines.append(f"| {m} | {r['train']['flips']} ({r['train']['flip_rate']:.1%}) | "
                     f"{t['flips']} ({t['flip_rate']:.1%}) | {t['median_abs_margin_diff']:.3f} / "
                     f"{t['max_abs_margin_diff']:.3f} | {t['accuracy_bf16']:.4f} → "
                     f"{t['accuracy_fp32']:.4f} | "
                     f"{'yes' if r['bf16_test_labels_equal_shipped'] else 'NO'} |")
    lines += ["", "Per pair, the label-only numbers from bf16 (re-scored here; the shipped labels "
              "differ, see above) and float32 labels:", "",
              "| pair | κ bf16 → fp32 | accuracy gap bf16 → fp32 | DPO pairs bf16 → fp32 "
              "(training items that change) | chosen right on disagreements |",
              "|---|---|---|---|---|"]
    for n, p in a["pairs"].items():
        b, f = p["bf16"], p["fp32"]
        lines.append(f"| {n} | {b['kappa']:+.4f} → {f['kappa']:+.4f} | "
                     f"{100 * b['accuracy_gap']:+.2f} → {100 * f['accuracy_gap']:+.2f} | "
                     f"{b['n_pairs']} → {f['n_pairs']} ({p['training_items_that_change']}) | "
                     f"{b['chosen_accuracy_on_disagreements']:.3f} → "
                     f"{f['chosen_accuracy_on_disagreements']:.3f} |")
    lines += ["", "Spearman ρ against the shipped DPO gains, predictors from bf16 / float32 "
              "labels: " + "; ".join(f"{k} {v['bf16']:+.3f} / {v['fp32']:+.3f}"
                                     for k, v in a["spearman_against_shipped_gains"].items())]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/precision", help="cache and scratch folder")
    ap.add_argument("--report", default=str(SHIPPED / "precision"),
                    help="where precision.json and precision.md go (default: beside the "
                         "shipped ladder)")
    args = ap.parse_args(argv)
    from deltatheory._io import atomic_path

    result = analyse(score(args.out))
    write_json(Path(args.report + ".json"), result)
    with atomic_path(Path(args.report + ".md")) as tmp:
        tmp.write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
