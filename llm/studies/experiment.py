"""Experiments: generation → pairs → training → evaluation for a list of arms, resumable.

A config (YAML) overrides :data:`DEFAULTS`; unknown keys are errors. ``quick`` in the config (or
``--quick``) merges its overrides on top. The run folder holds ``config.json`` (resolved),
``responses/`` (the models' answers on the training prompts, a column per model),
``arms/<arm>/`` (pairs dataset and diagnostics, trained model, held-out answers, ``metrics.json``)
and ``results.json``, ``results.md`` and ``results.png``. An arm with ``metrics.json`` is done and
is skipped by a rerun.

Arm keys: ``name``; ``method`` (``none`` for the untouched model, or a method of
:data:`llm.train.METHODS`); ``pairs``: either ``{synthetic: {chosen: K, rejected: K}}`` (the
bold-sections generator), ``{chosen: MODEL, rejected: MODEL}`` (two model columns), or
``{utility: [MODEL, …]}`` (best vs worst answer by the task's utility); plus ``control``,
``min_gap``, ``dolci``, ``drop_identical``; and ``train`` overrides.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from deltatheory._io import atomic_path, ensure_writable, write_json
from deltatheory.errors import DeltaTheoryError

__all__ = ["DEFAULTS", "load_config", "run", "bootstrap_ci"]

DEFAULTS = {
    "name": "experiment",
    "student": "smollm2-135m-instruct",
    "task": "bold-sections",
    "seed": 0,
    "prompts": {"train": 64, "test": 32},
    "generation": {"max_new_tokens": 256, "batch_size": 8, "temperature": 0.0,
                   "dtype": "float32"},
    "train": {},
    "bootstrap": 2000,
    "arms": [{"name": "untouched", "method": "none"}],
    "quick": {"prompts": {"train": 8, "test": 4}, "generation": {"max_new_tokens": 48},
              "train": {"max_steps": 2, "batch_size": 2}},
}
_ARM_KEYS = {"name", "method", "pairs", "control", "min_gap", "dolci", "drop_identical", "train"}
_PAIR_KEYS = {"synthetic", "chosen", "rejected", "utility"}


def _merge(base: dict, over: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k not in base:
            raise DeltaTheoryError(f"config key {where}{k!r} does not exist; known: "
                                   f"{', '.join(sorted(base))}")
        if isinstance(base[k], dict) and base[k] and isinstance(v, dict) and k != "train":
            out[k] = _merge(base[k], v, f"{where}{k}.")
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_yaml(path: str | Path) -> dict:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise DeltaTheoryError(f"config file {str(path)!r} does not exist")
    try:
        user = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DeltaTheoryError(f"config file {str(path)!r} is not valid YAML: "
                               f"{str(exc).splitlines()[0]}") from None
    if not isinstance(user, dict):
        raise DeltaTheoryError(f"config file {str(path)!r} must be a mapping")
    return user


def layered_config(defaults: dict, path: str | Path | None, *, quick: bool = False,
                   overrides: dict | None = None, extend_train: bool = False) -> dict:
    """``defaults`` ⊕ the YAML at ``path`` ⊕ ``overrides`` ⊕ (when ``quick``) the ``quick`` block.

    Nested keys must exist in ``defaults``, except under ``train`` (any TrainConfig field, checked
    by the caller), which replaces the default block — or, with ``extend_train``, adds to it.
    """
    user = _read_yaml(path) if path is not None else {}
    cfg = _merge(defaults, user, "")
    if overrides:
        cfg = _merge(cfg, overrides, "")
    if extend_train:
        cfg["train"] = {**defaults["train"], **user.get("train", {}),
                        **(overrides or {}).get("train", {})}
    if quick:
        q = cfg["quick"]
        cfg = _merge(cfg, {k: v for k, v in q.items() if k != "train"}, "quick.")
        cfg["train"] = {**cfg["train"], **q.get("train", {})}
    cfg["quick_mode"] = bool(quick)
    return cfg


def load_config(path: str | Path | None = None, *, quick: bool = False,
                overrides: dict | None = None) -> dict:
    """Defaults ⊕ the YAML file ⊕ ``overrides`` (⊕ its ``quick`` block when ``quick``)."""
    from ..train import TrainConfig

    cfg = layered_config(DEFAULTS, path, quick=quick, overrides=overrides)
    fields = set(TrainConfig.__dataclass_fields__)
    names = set()
    for arm in cfg["arms"]:
        bad = set(arm) - _ARM_KEYS
        if bad:
            raise DeltaTheoryError(f"config key arms.{sorted(bad)[0]!r} does not exist; known: "
                                   f"{', '.join(sorted(_ARM_KEYS))}")
        if "name" not in arm or arm["name"] in names:
            raise DeltaTheoryError("every arm needs a unique name")
        names.add(arm["name"])
        arm.setdefault("method", "dpo")
        for k in list(cfg["train"]) + list(arm.get("train", {})):
            if k not in fields:
                raise DeltaTheoryError(f"config key train.{k!r} does not exist; known: "
                                       f"{', '.join(sorted(fields))}")
        if arm["method"] != "none":
            TrainConfig(**{**cfg["train"], **arm.get("train", {}), "method": arm["method"]})
            bad = set(arm.get("pairs", {})) - _PAIR_KEYS
            if bad or not arm.get("pairs"):
                raise DeltaTheoryError(f"arm {arm['name']!r}: pairs must be one of "
                                       "{synthetic: …}, {chosen: …, rejected: …}, {utility: […]}")
    from ..tasks import get_task

    get_task(cfg["task"])
    return cfg


def bootstrap_ci(x, n: int = 2000, seed: int = 0) -> list[float]:
    """Percentile bootstrap 95 % interval of the mean."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return [float("nan"), float("nan")]
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n, len(x)))
    means = x[idx].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def _pairs_for_arm(arm, cfg, task, train_rows, folder):
    from ..generate import generate, table
    from ..pairs import make_pairs
    from ..tasks import answer_with_sections

    spec = arm["pairs"]
    kw = dict(control=arm.get("control", "none"), min_gap=arm.get("min_gap", 0.0),
              dolci=arm.get("dolci", False), drop_identical=arm.get("drop_identical", True),
              seed=cfg["seed"])
    if "synthetic" in spec:
        if task.name != "bold-sections":
            raise DeltaTheoryError("synthetic pairs exist only for the bold-sections task")
        kc, kr = int(spec["synthetic"]["chosen"]), int(spec["synthetic"]["rejected"])
        rows = []
        for i, r in enumerate(train_rows):
            rng_c = np.random.default_rng([cfg["seed"], i, 0])
            rng_r = np.random.default_rng([cfg["seed"], i, 1])
            rows.append({**r, "synthetic_chosen": answer_with_sections(r["topic"], kc, rng_c),
                         "synthetic_rejected": answer_with_sections(r["topic"], kr, rng_r)})
        return make_pairs(rows, chosen="synthetic_chosen", rejected="synthetic_rejected",
                          utility=task.score, **kw)
    models = spec["utility"] if "utility" in spec else [spec["chosen"], spec["rejected"]]
    g = cfg["generation"]
    for m in models:
        generate(m, train_rows, folder, max_new_tokens=g["max_new_tokens"],
                 batch_size=g["batch_size"], temperature=g["temperature"], seed=cfg["seed"],
                 dtype=g["dtype"])
    tab = table(train_rows, folder, models)
    if "utility" in spec:
        return make_pairs(tab, utility=task.score, columns=models, **kw)
    return make_pairs(tab, chosen=spec["chosen"], rejected=spec["rejected"], utility=task.score,
                      **kw)


def _reward_stats(log: list[dict]) -> dict:
    keys = ("rewards/accuracies", "rewards/margins")
    rows = [r for r in log if all(k in r for k in keys)]
    if not rows:
        return {}
    tail = rows[-max(1, len(rows) // 4):]  # the last quarter of training
    return {"reward_accuracy": float(np.mean([r[keys[0]] for r in tail])),
            "reward_margin": float(np.mean([r[keys[1]] for r in tail])),
            "train_loss_last": float(rows[-1].get("loss", float("nan")))}


def open_run(out: str | Path, config: dict) -> Path:
    """Create or reopen a run folder: a new one gets ``config.json`` (with a start time); an
    existing one must hold the same configuration, so that a rerun resumes the same run."""
    out = ensure_writable(out)
    cfg_path = out / "config.json"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        if {k: v for k, v in old.items() if k != "started"} != config:
            raise DeltaTheoryError(f"{cfg_path} holds a different configuration: resume with the "
                                   "same config or use another --out")
    else:
        write_json(cfg_path, {**config, "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return out


def arm_folder(out: Path, name: str, progress) -> tuple[Path, dict | None]:
    """An arm's folder, and its metrics if an earlier run finished it (then it is skipped)."""
    folder = out / "arms" / name
    done = folder / "metrics.json"
    if done.exists():
        progress(f"arm {name}: done earlier, skipped")
        return folder, json.loads(done.read_text())
    return folder, None


def run(config: dict, out: str | Path, *, progress=print) -> dict:
    """Run every arm of ``config`` into ``out``; returns the results (also written there)."""
    from ..generate import generate
    from ..models import load
    from ..pairs import diagnostics, load_pairs, save_pairs
    from ..tasks import get_task
    from ..train import TrainConfig, train

    out = open_run(out, config)
    task = get_task(config["task"])
    n = config["prompts"]
    train_rows = task.prompts("train", n["train"], config["seed"])
    test_rows = task.prompts("test", n["test"], config["seed"])
    g = config["generation"]
    results = []
    for arm in config["arms"]:
        folder, earlier = arm_folder(out, arm["name"], progress)
        if earlier is not None:
            results.append(earlier)
            continue
        done = folder / "metrics.json"
        t0 = time.perf_counter()
        folder.mkdir(parents=True, exist_ok=True)
        metrics = {"arm": arm["name"], "method": arm["method"],
                   "control": arm.get("control", "none"), "pairs": arm.get("pairs")}
        if arm["method"] == "none":
            model, tok = load(config["student"])
        else:
            progress(f"arm {arm['name']}: pairs")
            pairs_dir = folder / "pairs"
            if not (pairs_dir / "dataset_info.json").exists():
                save_pairs(_pairs_for_arm(arm, config, task, train_rows, out), pairs_dir)
            ds = load_pairs(pairs_dir)
            model, tok = load(config["student"])
            metrics["pair_diagnostics"] = diagnostics(ds.to_list(), tok)
            tcfg = TrainConfig(**{**config["train"], **arm.get("train", {}),
                                  "method": arm["method"], "seed": config["seed"]})
            progress(f"arm {arm['name']}: training ({tcfg.method}, {len(ds)} pairs)")
            model, tok, log = train(config["student"], ds, folder, tcfg, model=model,
                                    tokenizer=tok)
            metrics.update(_reward_stats(log))
            metrics["train_config"] = dataclasses.asdict(tcfg)
            metrics["beta"] = tcfg.resolved_beta
        progress(f"arm {arm['name']}: evaluating on {len(test_rows)} held-out prompts")
        answers = generate(f"{arm['name']}", test_rows, folder / "eval",
                           max_new_tokens=g["max_new_tokens"], batch_size=g["batch_size"],
                           temperature=0.0, seed=config["seed"], model=model, tokenizer=tok)
        scores = [task.score(r, answers[r["id"]]) for r in test_rows]
        metrics.update(metric_mean=float(np.mean(scores)),
                       metric_ci95=bootstrap_ci(scores, config["bootstrap"], config["seed"]),
                       n_test=len(scores), seconds=round(time.perf_counter() - t0, 1))
        write_json(done, metrics)
        results.append(metrics)
        del model
    summary = {"config": config, "task": task.name, "metric": _metric_name(task),
               "arms": results}
    write_json(out / "results.json", summary)
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text(_markdown(summary))
    _plot(summary, out / "results.png")
    return summary


def _metric_name(task) -> str:
    return {"bold-sections": "mean bold sections per answer",
            "arithmetic": "accuracy"}.get(task.name, "mean score")


def _markdown(s: dict) -> str:
    lines = [f"| arm | method | control | {s['metric']} [95 % CI] | reward acc. | margin |",
             "|---|---|---|---|---|---|"]
    for a in s["arms"]:
        ci = a["metric_ci95"]
        ra = a.get("reward_accuracy")
        rm = a.get("reward_margin")
        lines.append(f"| {a['arm']} | {a['method']} | {a['control']} | {a['metric_mean']:.2f} "
                     f"[{ci[0]:.2f}, {ci[1]:.2f}] | {'' if ra is None else f'{ra:.2f}'} | "
                     f"{'' if rm is None else f'{rm:.2f}'} |")
    return "\n".join(lines) + "\n"


def _plot(s: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = s["arms"]
    m = np.array([a["metric_mean"] for a in arms])
    ci = np.array([a["metric_ci95"] for a in arms])
    fig, ax = plt.subplots(figsize=(3.4, 2.4), layout="constrained")
    ax.bar(range(len(arms)), m, color="#0072B2",
           yerr=[m - ci[:, 0], ci[:, 1] - m], capsize=2)
    ax.set_xticks(range(len(arms)), [a["arm"] for a in arms], rotation=30, ha="right",
                  fontsize=7)
    ax.set_ylabel(s["metric"], fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=200)
    plt.close(fig)
