"""The experiment recipe: generation → pairs → training → evaluation for a list of arms.

Read :func:`run` top to bottom: it is the whole recipe. A config (YAML) overrides the defaults
of :class:`ExperimentConfig`; unknown keys are errors; ``quick`` (or ``--quick``) merges its
overrides on top. The run folder (:class:`deltatheory.llm.runs.Run`) holds ``config.json``,
``responses/`` (the models' answers on the training prompts, a column per model),
``arms/<arm>/`` (pairs dataset and diagnostics, trained model, held-out answers,
``metrics.json``) and ``results.json``, ``results.md`` and ``results.png``. Resumable per arm.

Arm keys: ``name``; ``method`` (``none`` for the untouched model, or a method of
:data:`deltatheory.llm.train.METHODS`); ``pairs``: ``{synthetic: {chosen: K, rejected: K}}``
(bold-sections answers with exactly K sections; ``source: own`` builds them from the
student's own answers, generated with ``pair_generation`` ⊕ ``generation``, the default
``template`` from a short template), ``{chosen: MODEL, rejected: MODEL}`` (two model columns) or
``{utility: [MODEL, …]}`` (best vs worst answer by the task's utility); plus ``control``,
``min_gap``, ``dolci``, ``drop_identical``; ``train`` (overrides of the study's training
settings for this arm); and ``model`` (the model this arm starts from, when it is not the
study's ``student``: e.g. a ``none`` arm that evaluates the teacher as a ceiling).

Comparisons: ``baseline`` names an arm (usually the untouched student); every arm is then
reported as a paired change against it (the same held-out items, paired bootstrap CI). With
``ceiling`` too (an arm that evaluates a stronger model), every arm also reports the share of
the baseline-to-ceiling gap it recovers (:func:`deltatheory.stats.gap_recovered`).

With ``prompts.validation`` every arm is also scored on validation prompts, and ``select``
names the arms of a sweep: ``results.json`` reports the one with the highest validation mean
(:data:`SELECT_RULE`). Each arm writes ``samples.md`` (held-out answers); graded tasks get
``results_hist.png``.

Each training arm also records its pairs' diagnostics (count, lengths, chosen-longer rate,
token overlap) and the student's mean log-probability of the chosen and the rejected answers
on the first ``logp_probe`` pairs before and after training (likelihood displacement), beside
TRL's reward accuracy and margin.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deltatheory._io import atomic_path, write_json
from deltatheory.errors import DeltaTheoryError
from deltatheory.stats import bootstrap_ci

from ..choice import choice_answers
from ..config import build, merge, read_yaml, to_dict
from ..generate import GenerationConfig, generate, table, uses_chat
from ..pairs import (
    CONTROLS,
    diagnostics,
    load_pairs,
    make_pairs,
    save_pairs,
    saved_pairs_match,
    synthetic_table,
)
from ..runs import Run
from ..tasks import get_task
from ..train import TrainConfig, reward_stats, schedule_stats

#: How this module computes an arm, recorded in the run folder: a resume by code with another
#: version is refused (:meth:`Run.open`), and an unfinished arm's saved pairs are reused only when
#: they were saved under the same version and settings. Bump it with any change that alters a
#: number an arm writes or the pairs it builds (1: the version guard; choice tasks scored by
#: log-probability; the optimizer updates each arm made recorded).
CODE_VERSION = "experiment-1"

__all__ = ["Prompts", "Arm", "ExperimentConfig", "ArmResult", "load_config", "run", "pairs_for",
           "markdown"]


@dataclass(frozen=True)
class Prompts:
    train: int = 64
    test: int = 32
    validation: int = 0  # > 0: every arm is also evaluated on this many validation prompts


@dataclass(frozen=True)
class Arm:
    """One arm of an experiment (see the module docstring)."""

    name: str = ""
    method: str = "dpo"
    pairs: dict | None = None
    control: str = "none"
    min_gap: float | None = None
    dolci: bool = False
    drop_identical: bool = True
    train: dict = field(default_factory=dict)
    model: str | None = None


def _quick() -> dict:
    return {"prompts": {"train": 8, "test": 4}, "generation": {"max_new_tokens": 48},
            "train": {"max_steps": 2, "batch_size": 2}}


@dataclass(frozen=True)
class ExperimentConfig:
    """Every default of an experiment, in one place."""

    name: str = "experiment"
    student: str = "smollm2-135m-instruct"
    task: str = "bold-sections"
    seed: int = 0
    prompts: Prompts = field(default_factory=Prompts)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    bootstrap: int = 2000
    baseline: str | None = None
    ceiling: str | None = None
    logp_probe: int = 64
    pair_generation: dict = field(default_factory=dict)  # overrides of `generation` for the
    # answers pairs are built from (the models' answers on the training prompts)
    select: list[str] = field(default_factory=list)  # arms to pick one of by validation mean
    samples: int = 2  # held-out answers per arm written to arms/<arm>/samples.md
    arms: list[Arm] = field(default_factory=lambda: [Arm("untouched", method="none")])
    quick: dict = field(default_factory=_quick)
    quick_mode: bool = False

    def pair_gen(self) -> GenerationConfig:
        """The generation settings of the answers pairs are built from."""
        return merge(self.generation, self.pair_generation, "pair_generation.")

    def train_config(self, arm: Arm) -> TrainConfig:
        """The arm's training settings: the study's, the arm's overrides, its method, the seed."""
        return merge(self.train, {"seed": self.seed, **arm.train, "method": arm.method},
                     f"arms.{arm.name}.train.")


@dataclass(frozen=True)
class ArmResult:
    """What one arm measured (``metrics.json``)."""

    arm: str
    method: str
    control: str
    pairs: dict | None
    metric_mean: float
    metric_ci95: list | None
    n_test: int
    seconds: float = 0.0
    pair_diagnostics: dict | None = None
    reward_accuracy: float | None = None
    reward_margin: float | None = None
    train_loss_last: float | None = None
    train_config: dict | None = None
    beta: float | None = None
    model_fingerprint: str | None = None
    start_model: str | None = None
    logps: dict | None = None
    scores: list | None = None
    validation_mean: float | None = None
    validation_ci95: list | None = None
    validation_scores: list | None = None

    @classmethod
    def from_dict(cls, d: dict) -> ArmResult:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


def load_config(path: str | Path | None = None, *, quick: bool = False,
                overrides: dict | None = None) -> ExperimentConfig:
    """Defaults ⊕ the YAML file ⊕ ``overrides`` (⊕ the ``quick`` block when ``quick``)."""
    user = read_yaml(path) if path is not None else {}
    arms = user.pop("arms", None)
    cfg = build(ExperimentConfig, user)
    if overrides:
        arms = overrides.pop("arms", arms)
        cfg = merge(cfg, overrides)
    if arms is not None:
        if not isinstance(arms, list) or not arms:
            raise DeltaTheoryError("config key 'arms' must be a non-empty list of arms")
        cfg = dataclasses.replace(cfg, arms=[build(Arm, a, "arms.") for a in arms])
    if quick:
        cfg = merge(cfg, cfg.quick, "quick.")
    cfg = dataclasses.replace(cfg, quick_mode=bool(quick))
    names = [a.name for a in cfg.arms]
    if "" in names or len(set(names)) != len(names):
        raise DeltaTheoryError(f"every arm needs a unique name; got {names}")
    for n in names:
        if not _ARM_NAME.match(n):
            raise DeltaTheoryError(f"arm name {n!r} must be letters, digits and . _ = + - "
                                   "(it names a folder), starting with a letter or digit")
    if cfg.baseline is not None and cfg.baseline == cfg.ceiling:
        raise DeltaTheoryError(f"baseline and ceiling are the same arm {cfg.baseline!r}")
    for key in ("baseline", "ceiling"):
        ref = getattr(cfg, key)
        if ref is not None and ref not in names:
            raise DeltaTheoryError(f"{key}={ref!r} is not one of the arms: {', '.join(names)}")
    if cfg.ceiling is not None and cfg.baseline is None:
        raise DeltaTheoryError("ceiling needs a baseline: the recovered share is measured from "
                               "the baseline arm to the ceiling arm")
    for arm in cfg.arms:
        g = arm.min_gap
        if g is not None and (isinstance(g, bool) or not isinstance(g, int | float)
                              or not np.isfinite(g)):
            raise DeltaTheoryError(f"arm {arm.name!r}: min_gap={g!r} must be a finite number "
                                   "(or left out: no gap filter)")
    if isinstance(cfg.logp_probe, bool) or not isinstance(cfg.logp_probe, int) \
            or cfg.logp_probe < 0:
        raise DeltaTheoryError(f"logp_probe={cfg.logp_probe!r} must be a whole number >= 0")
    for arm in cfg.arms:
        if arm.control not in CONTROLS:
            raise DeltaTheoryError(f"arm {arm.name!r}: control={arm.control!r} is not one of "
                                   f"{', '.join(CONTROLS)}")
        if arm.method == "none":
            continue
        cfg.train_config(arm)  # validates the method and every override
        spec = arm.pairs or {}
        if not spec or set(spec) - {"synthetic", "chosen", "rejected", "utility"}:
            raise DeltaTheoryError(f"arm {arm.name!r}: pairs must be one of "
                                   "{synthetic: …}, {chosen: …, rejected: …}, {utility: […]}")
    task = get_task(cfg.task)
    cfg.pair_gen()  # validates pair_generation
    if cfg.select:
        unknown = [a for a in cfg.select if a not in names]
        if unknown:
            raise DeltaTheoryError(f"select names {unknown[0]!r}, which is not one of the arms: "
                                   f"{', '.join(names)}")
        if cfg.prompts.validation < 1:
            raise DeltaTheoryError("select picks an arm by its validation mean: set "
                                   "prompts.validation to a number of prompts >= 1")
    for split in ("train", "test", "validation"):  # the task must have that many prompts
        n = getattr(cfg.prompts, split)
        if n or split != "validation":
            task.prompts(split, n, cfg.seed)
    if isinstance(cfg.samples, bool) or cfg.samples < 0:
        raise DeltaTheoryError(f"samples={cfg.samples!r} must be a whole number >= 0")
    for arm in cfg.arms:
        syn = (arm.pairs or {}).get("synthetic")
        if syn is None:
            continue
        if not isinstance(syn, dict) or set(syn) - {"chosen", "rejected", "source"} or \
                not all(isinstance(syn.get(k), int) and syn[k] >= 1
                        for k in ("chosen", "rejected")):
            raise DeltaTheoryError(f"arm {arm.name!r}: synthetic pairs need chosen: K and "
                                   "rejected: K (whole numbers >= 1) and optionally source")
        if syn.get("source", "template") not in ("template", "own"):
            raise DeltaTheoryError(f"arm {arm.name!r}: synthetic source={syn['source']!r} is not "
                                   "one of template, own")
    return cfg


_ARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")


def models_of(cfg: ExperimentConfig) -> list[str]:
    """Every model the experiment reads: the student, the pairs' models, daDPO teachers."""
    out = [cfg.student]
    for arm in cfg.arms:
        out += [arm.model] if arm.model else []
        spec = arm.pairs or {}
        out += spec.get("utility", []) + [spec[k] for k in ("chosen", "rejected") if k in spec]
        if arm.method != "none" and cfg.train_config(arm).teacher:
            out.append(cfg.train_config(arm).teacher)
    return out


def pairs_for(arm: Arm, cfg: ExperimentConfig, task, rows: list[dict], folder: Path) -> list:
    """The arm's preference pairs on ``rows`` (generating the models' answers if needed)."""
    spec = arm.pairs
    kw = dict(control=arm.control, min_gap=arm.min_gap, dolci=arm.dolci,
              drop_identical=arm.drop_identical, seed=cfg.seed,
              correct=task.score if task.binary else None)
    if "synthetic" in spec:
        syn = spec["synthetic"]
        own = None
        if syn.get("source", "template") == "own":  # built from the student's own answers
            own = generate(cfg.student, rows, folder, cfg.pair_gen(), seed=cfg.seed)
        tab = synthetic_table(task, rows, int(syn["chosen"]), int(syn["rejected"]), cfg.seed,
                              answers=own)
        return make_pairs(tab, chosen="synthetic_chosen", rejected="synthetic_rejected",
                          utility=task.utility, **kw)
    models = spec["utility"] if "utility" in spec else [spec["chosen"], spec["rejected"]]
    if task.choice:  # a model's answer is the candidate it prefers
        answers = {m: choice_answers(m, rows, folder, dtype=cfg.generation.dtype)
                   for m in models}
        tab = [{**r, **{m: answers[m][r["id"]] for m in models}} for r in rows]
    else:
        for m in models:
            generate(m, rows, folder, cfg.pair_gen(), seed=cfg.seed)
        tab = table(rows, folder, models, cfg.pair_gen(), cfg.seed)
    if "utility" in spec:
        return make_pairs(tab, utility=task.utility, columns=models, **kw)
    return make_pairs(tab, chosen=spec["chosen"], rejected=spec["rejected"],
                      utility=task.utility, **kw)


def run(config: ExperimentConfig, out: str | Path, *, progress=print) -> dict:
    """Run every arm of ``config`` into ``out``; returns the results (also written there)."""
    from ..models import fingerprint, load
    from ..train import train

    the_run = Run.open(out, to_dict(config), models=models_of(config), code_version=CODE_VERSION)
    task = get_task(config.task)
    train_rows = task.prompts("train", config.prompts.train, config.seed)
    test_rows = task.prompts("test", config.prompts.test, config.seed)
    val_rows = (task.prompts("validation", config.prompts.validation, config.seed)
                if config.prompts.validation else [])

    def one_arm(arm: Arm, folder: Path) -> dict:
        start = arm.model or config.student
        metrics = {"arm": arm.name, "method": arm.method, "control": arm.control,
                   "pairs": arm.pairs, "start_model": start}
        model, tok = load(start)
        if arm.method != "none":
            # 1. pairs (deterministic given the config: saved once, reused on a rerun)
            progress(f"arm {arm.name}: pairs")
            pairs_dir = folder / "pairs"
            key = hashlib.sha256(json.dumps(
                [CODE_VERSION, to_dict(config), dataclasses.asdict(arm)], sort_keys=True,
                default=str).encode()).hexdigest()
            if not saved_pairs_match(pairs_dir, key):  # absent, or saved by other code
                save_pairs(pairs_for(arm, config, task, train_rows, the_run.folder), pairs_dir,
                           key=key)
            ds = load_pairs(pairs_dir)
            metrics["pair_diagnostics"] = {**diagnostics(ds.to_list(), tok),
                                           "prompts": len(train_rows)}
            probe = ds.select(range(min(config.logp_probe, len(ds)))).to_list()
            before = pair_logps(model, tok, probe)
            # 2. training
            tcfg = config.train_config(arm)
            progress(f"arm {arm.name}: training ({tcfg.method}, {len(ds)} pairs)")
            model, tok, log = train(start, ds, folder, tcfg, model=model, tokenizer=tok)
            after = pair_logps(model, tok, probe)
            metrics.update(reward_stats(log), **schedule_stats(log),
                           train_config=dataclasses.asdict(tcfg),
                           beta=tcfg.resolved_beta,
                           logps={"n": len(probe), **_prefix(before, "before"),
                                  **_prefix(after, "after")})
        # 3. evaluation on held-out prompts (answers keyed by the weights' fingerprint)
        metrics["model_fingerprint"] = fingerprint(model)
        def answer(rows):
            if task.choice:
                return choice_answers(arm.name, rows, folder / "eval", model=model,
                                      tokenizer=tok, dtype=config.generation.dtype)
            return generate(arm.name, rows, folder / "eval",
                            dataclasses.replace(config.generation, temperature=0.0),
                            seed=config.seed, model=model, tokenizer=tok,
                            chat=uses_chat(start, tok))

        if val_rows:  # the validation split: for choosing settings without the held-out items
            progress(f"arm {arm.name}: evaluating on {len(val_rows)} validation prompts")
            va = answer(val_rows)
            vs = [task.score(r, va[r["id"]]) for r in val_rows]
            metrics.update(validation_mean=float(np.mean(vs)), validation_scores=vs,
                           validation_ci95=bootstrap_ci(vs, config.bootstrap, config.seed))
        progress(f"arm {arm.name}: evaluating on {len(test_rows)} held-out prompts")
        answers = answer(test_rows)
        scores = [task.score(r, answers[r["id"]]) for r in test_rows]
        metrics.update(metric_mean=float(np.mean(scores)),
                       metric_ci95=bootstrap_ci(scores, config.bootstrap, config.seed),
                       n_test=len(scores), scores=scores)
        _write_samples(folder / "samples.md", arm.name, test_rows[:config.samples], answers,
                       task)
        return metrics

    results = the_run.each(config.arms, lambda a: a.name, one_arm, load=ArmResult.from_dict,
                           progress=progress)
    comparisons = compare(results, config)
    summary = {"config": to_dict(config), "task": task.name, "metric": _metric_name(task),
               "arms": [{**dataclasses.asdict(r), **comparisons.get(r.arm, {})}
                        for r in results]}
    if config.select:
        summary["selected"] = select(results, config.select)
    write_json(the_run.folder / "results.json", summary)
    with atomic_path(the_run.folder / "results.md") as tmp:
        tmp.write_text(markdown(summary["metric"], results, comparisons,
                                selected=summary.get("selected", {}).get("arm")))
    _plot(summary["metric"], results, the_run.folder / "results.png")
    if not task.binary:
        _histogram("bold sections in one answer" if task.name == "bold-sections"
                   else "score of one answer", results, the_run.folder / "results_hist.png")
    return summary


SELECT_RULE = ("the arm with the highest mean on the validation prompts (never the held-out "
               "ones; for bold-sections their topics are shared with neither training nor "
               "held-out prompts); a tie goes to the arm listed first")


def select(results: list[ArmResult], among: list[str]) -> dict:
    """The arm of ``among`` with the highest validation mean (ties: the first listed), with the
    rule in words and every candidate's validation mean."""
    by = {r.arm: r for r in results}
    vals = {a: by[a].validation_mean for a in among}
    best = max(among, key=lambda a: (vals[a], -among.index(a)))
    return {"arm": best, "rule": SELECT_RULE, "validation_means": vals}


def _write_samples(path: Path, arm: str, rows: list[dict], answers: dict, task) -> None:
    parts = [f"# {arm}: sample held-out answers\n"]
    for r in rows:
        q = r["prompt"][-1]["content"]
        parts.append(f"## {r['id']} (score {task.score(r, answers[r['id']]):g})\n\n"
                     f"**Prompt:** {q}\n\n```text\n{answers[r['id']]}\n```\n")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts))


def pair_logps(model, tokenizer, pairs: list[dict]) -> dict:
    """The model's mean sequence log-probability of the chosen and of the rejected answers of
    ``pairs`` (conversational pairs), and of their difference; {} for no pairs."""
    from ..logprobs import completion_logps

    if not pairs:
        return {}
    items = [(p["prompt"], p["chosen"][0]["content"]) for p in pairs] + \
        [(p["prompt"], p["rejected"][0]["content"]) for p in pairs]
    lp = completion_logps(model, tokenizer, items, batch_size=16, progress=False)
    c, r = lp[:len(pairs)], lp[len(pairs):]
    return {"chosen": float(c.mean()), "rejected": float(r.mean()), "margin": float((c - r).mean())}


def _prefix(d: dict, when: str) -> dict:
    return {f"{k}_{when}": v for k, v in d.items()}


def compare(results: list[ArmResult], config: ExperimentConfig) -> dict[str, dict]:
    """Per arm: the paired change against ``config.baseline`` (CI over held-out items) and,
    with ``config.ceiling``, the share of the baseline-to-ceiling gap it recovers."""
    from deltatheory.stats import gap_recovered, paired_diff_ci

    by = {r.arm: r for r in results}
    if config.baseline is None or by[config.baseline].scores is None:
        return {}
    base = by[config.baseline].scores
    out = {}
    for r in results:
        if r.scores is None or len(r.scores) != len(base):
            continue
        d = {"change": float(np.mean(r.scores) - np.mean(base)),
             "change_ci95": paired_diff_ci(base, r.scores, config.bootstrap, config.seed)}
        if config.ceiling is not None and by[config.ceiling].scores is not None:
            d["recovered"] = gap_recovered(base, r.scores, by[config.ceiling].scores,
                                           config.bootstrap, config.seed).to_dict()
        out[r.arm] = d
    return out


def _metric_name(task) -> str:
    if task.name == "bold-sections":
        return "mean bold sections per answer"
    if task.choice:
        return "accuracy (log-prob choice)"
    return "accuracy" if task.binary else "mean score"


def markdown(metric: str, arms: list[ArmResult], comparisons: dict | None = None, *,
             selected: str | None = None) -> str:
    """The results table (Markdown): each arm's metric with its CI, the change against the
    baseline and the share of the gap recovered (when configured), reward accuracy and margin,
    and the chosen / rejected log-probabilities before → after training."""
    comparisons = comparisons or {}
    has_change = bool(comparisons)
    has_rec = any("recovered" in c for c in comparisons.values())
    has_val = any(a.validation_mean is not None for a in arms)
    head = ["arm", "method", "control"] + (["validation [95 % CI]"] if has_val else [])
    head += [f"{metric} [95 % CI]"]
    head += ["change [95 % CI]"] if has_change else []
    head += ["gap recovered [95 % CI]"] if has_rec else []
    head += ["reward acc.", "margin", "log p chosen (before → after)",
             "log p rejected (before → after)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def ci(v, c, fmt="{:.2f}"):
        if v is None:
            return "n/a"
        return fmt.format(v) + (f" [{fmt.format(c[0])}, {fmt.format(c[1])}]" if c else "")

    def opt(v):
        return "" if v is None else f"{v:.2f}"

    for a in arms:
        name = a.arm + (" (selected)" if a.arm == selected else "")
        row = [name, a.method, a.control]
        row += [ci(a.validation_mean, a.validation_ci95)] if has_val else []
        row += [ci(a.metric_mean, a.metric_ci95)]
        c = comparisons.get(a.arm, {})
        if has_change:
            row.append(ci(c.get("change"), c.get("change_ci95"), "{:+.3f}") if c else "")
        if has_rec:
            rec = c.get("recovered") or {}
            row.append(ci(rec.get("value"), rec.get("ci95")) if rec else "")
        lp = a.logps or {}
        row += [opt(a.reward_accuracy), opt(a.reward_margin)]
        for side in ("chosen", "rejected"):
            b, e = lp.get(f"{side}_before"), lp.get(f"{side}_after")
            row.append("" if b is None else f"{b:.1f} → {e:.1f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _plot(metric: str, arms: list[ArmResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.array([a.metric_mean for a in arms])
    ci = np.array([a.metric_ci95 or [a.metric_mean] * 2 for a in arms])
    fig, ax = plt.subplots(figsize=(3.4, 2.4), layout="constrained")
    ax.bar(range(len(arms)), m, color="#0072B2", yerr=[m - ci[:, 0], ci[:, 1] - m], capsize=2)
    ax.set_xticks(range(len(arms)), [a.arm for a in arms], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(metric, fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=200)
    plt.close(fig)


def _histogram(xlabel: str, arms: list[ArmResult], path: Path) -> None:
    """Each arm's distribution of held-out scores (bold sections per answer): one row each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = [a for a in arms if a.scores]
    top = max(max(a.scores) for a in arms)
    bins = np.arange(0, top + 2) - 0.5 if top <= 40 else 30
    fig, axes = plt.subplots(len(arms), 1, figsize=(3.4, 0.75 * len(arms) + 0.6), sharex=True,
                             layout="constrained", squeeze=False)
    for ax, a in zip(axes[:, 0], arms, strict=True):
        ax.hist(a.scores, bins=bins, color="#0072B2")
        ax.set_ylabel(a.arm, fontsize=6, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=6)
    axes[-1, 0].set_xlabel(xlabel, fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=200)
    plt.close(fig)
