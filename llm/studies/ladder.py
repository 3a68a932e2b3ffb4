"""The ladder study: the bridge's predictions against what DPO and SFT actually did, on real
models, at a resolution that can tell predictors apart (issue 12).

A student and a ladder of teachers answer a binary task (``addition-choice``: train, validation
and test never share a question) by log-probability choice (:mod:`deltatheory.llm.choice`).
The teachers are weaker rungs (``NAME@prune-S``), the student itself (the paper's §3 "self over
weaker") and stronger rungs (``NAME@truth-N``: the student fine-tuned on right answers to
questions no split asks). For every (chosen, rejected) pair of teachers in ``pairs``:

1. **Predict, before any training.** The bridge (:mod:`deltatheory.bridge`) reads the truth's,
   the student's and the two teachers' held-out labels and returns κ, its signal and noise
   terms, λ* and the predicted best gain, with bootstrap CIs. Beside it, the simple predictors
   a practitioner would try: the accuracy gap of chosen over rejected (the paper's "delta
   magnitude"), the chosen teacher's accuracy, the chosen answer's accuracy on the
   disagreement items, and two training-free scores of the student on the pairs: its mean
   length-normalised log-prob margin of chosen over rejected (the implicit-reward margin of
   the "alignment potential" metric) and CHES (the similarity of the chosen and rejected
   answers' hidden states, which predicts likelihood displacement).
2. **Observe.** DPO trains the student on the training items where the two teachers disagree
   (chosen = the chosen teacher's answer), once per seed in ``seeds``; SFT on the chosen
   teacher's answers on the same items; the reversed control (chosen and rejected swapped); and,
   for the pairs in ``coin_flip``, a zero-delta control whose side is a coin flip on each item;
   for the pairs in ``sft_rejected``, SFT on the rejected teacher's answers.
   Every arm trains the same number of optimizer steps with the same batch (``train.max_steps``
   × ``train.batch_size``; a seeded sample of the pairs, cycled when there are fewer), so arms
   differ in what their pairs say, not in how many there are. A DPO arm's held-out accuracy is
   recorded at ``checkpoints`` points during training (on the first ``items.curve`` held-out
   items); every arm's on every held-out item at the end.
3. **Compare.** Per pair, the seed-averaged DPO gain with two CIs: over seeds and items
   (:func:`deltatheory.stats.seeds_items_ci`, for the mean over all seeds one could train) and
   a paired bootstrap over items given the seeds run; the Spearman ρ over pairs of that gain
   against κ and against every simple predictor, each with a bootstrap CI over pairs.

Read :func:`run` top to bottom: it is the whole recipe. The run folder holds ``config.json``,
``labels/`` (each model's margins, keyed by identity and scoring settings), ``predictors.json``
(the pairs' training-free scores), ``predictions.csv`` (held-out labels, a column per model: a
bridge input), ``arms/<arm>/metrics.json`` (a rerun skips finished arms: a kill loses at most
the arm in flight), ``ladder.json``, ``ladder.md`` and ``ladder.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
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
from deltatheory.stats import (
    Spearman,
    bootstrap_ci,
    ci_variance,
    gain_se,
    one_seed_ci,
    paired_diff_ci,
    pooled_seed_variance,
    seeds_items_ci,
    spearman_ci,
    welch_ci,
)

from ..config import build, merge, read_yaml, to_dict
from ..pairs import diagnostics, make_pairs
from ..runs import Run
from ..tasks import get_task
from ..train import TrainConfig, reward_stats, schedule_stats

__all__ = ["Items", "LadderConfig", "load_config", "arms", "run", "markdown", "PREDICTORS",
           "STUDY", "teachers", "short_name"]

#: The shipped study, the default of ``deltatheory llm ladder`` (``experiments/ladder.yaml`` is a
#: link to this file). ``load_config()`` without a path gives the small built-in ladder below.
STUDY = Path(__file__).with_name("ladder.yaml")

#: How this module computes an arm and a label, recorded in the run folder: a resume by code with
#: another version is refused (see :meth:`Run.open`). Bump it with any change that alters a number
#: an arm or a label writes (version 3: shared-prefix choice scoring, RoPE kept float32 when a
#: trained model is converted, curve ends taken from the full evaluations; 4: each arm records
#: its optimizer steps, learning rates and updates).
CODE_VERSION = "ladder-4"

#: the training-free predictors set against the observed DPO gain (besides κ)
PREDICTORS = {
    "kappa": "κ (the bridge)",
    "signal": "signal term alone",
    "accuracy_gap": "accuracy gap (chosen − rejected)",
    "chosen_accuracy": "chosen teacher's accuracy",
    "chosen_accuracy_on_disagreements": "chosen's accuracy on the disagreement items",
    "implicit_margin": "implicit-reward margin (student, length-normalised)",
    "ches": "CHES (student hidden states)",
}


@dataclass(frozen=True)
class Items:
    train: int = 1000
    test: int = 2000
    curve: int = 200  # the held-out subset scored at each checkpoint (DPO arms)


def _ladder_train() -> TrainConfig:
    # the study's own training settings, visible here (TrainConfig holds the rest)
    return TrainConfig(method="dpo", learning_rate=2.0e-4, batch_size=8, max_length=128,
                       max_steps=12, subsample=True, precompute_ref=True)


def _quick() -> dict:
    return {"items": {"train": 48, "test": 40, "curve": 16}, "seeds": [0], "checkpoints": 2,
            "train": {"max_steps": 2, "batch_size": 4}}


@dataclass(frozen=True)
class LadderConfig:
    """Every default of the ladder, in one place."""

    name: str = "ladder"
    student: str = "smollm2-135m-instruct"
    rungs: list[str] = field(default_factory=lambda: ["smollm2-135m-instruct@prune-0.3",
                                                      "smollm2-135m-instruct@prune-0.4"])
    stronger: list[str] = field(default_factory=list)
    pairs: list[list[str]] = field(default_factory=list)  # [] → every pair, chosen = earlier
    task: str = "addition-choice"
    seed: int = 0
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  # DPO training seeds
    sft: bool = True
    reversed: bool = True
    coin_flip: list[str] = field(default_factory=list)  # pair names with a zero-delta control
    # pair names with an SFT arm on the *rejected* teacher's answers (mostly wrong ones): does
    # SFT help through what the answers say or through their form?
    sft_rejected: list[str] = field(default_factory=list)
    checkpoints: int = 4
    items: Items = field(default_factory=Items)
    dtype: str = "bf16"  # scoring dtype
    batch_size: int = 64  # scoring batch (items per forward pass)
    bootstrap: int = 2000
    train: TrainConfig = field(default_factory=_ladder_train)
    quick: dict = field(default_factory=_quick)
    quick_mode: bool = False


def short_name(spec: str, student: str) -> str:
    return "student" if spec == student else (
        spec[len(student) + 1:] if spec.startswith(student + "@") else spec)


def teachers(cfg: LadderConfig) -> list[str]:
    """Every teacher, strongest first: the stronger rungs, the student, the weaker rungs."""
    return [*cfg.stronger, cfg.student, *cfg.rungs]


def _pairs(cfg: LadderConfig) -> list[tuple[str, str]]:
    """The (chosen, rejected) specs of every pair the study runs."""
    models = teachers(cfg)
    if not cfg.pairs:
        return [(models[i], models[j]) for i, j in itertools.combinations(range(len(models)), 2)]
    by = {short_name(m, cfg.student): m for m in models} | {m: m for m in models}
    out = []
    for p in cfg.pairs:
        if not isinstance(p, list) or len(p) != 2:
            raise DeltaTheoryError(f"pairs entry {p!r} must be [chosen, rejected]")
        for m in p:
            if m not in by:
                raise DeltaTheoryError(f"pairs entry {p!r}: {m!r} is not one of the teachers: "
                                       f"{', '.join(short_name(x, cfg.student) for x in models)}")
        if by[p[0]] == by[p[1]]:
            raise DeltaTheoryError(f"pairs entry {p!r} pairs a teacher with itself")
        out.append((by[p[0]], by[p[1]]))
    if len(set(out)) != len(out):
        raise DeltaTheoryError("pairs lists the same pair twice")
    return out


def pair_name(c: str, r: str, student: str) -> str:
    return f"{short_name(c, student)}-over-{short_name(r, student)}"


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
    models = teachers(cfg)
    if len(models) < 2 or len(set(models)) != len(models):
        raise DeltaTheoryError(f"the teachers {models!r} (stronger, student, rungs) must be at "
                               "least two different models; the student cannot also be a rung")
    for m in models:
        parse_spec(m)
    for k in ("train", "test", "curve"):
        if getattr(cfg.items, k) < 1:
            raise DeltaTheoryError(f"items.{k}={getattr(cfg.items, k)} must be at least 1")
    if cfg.items.curve > cfg.items.test:
        raise DeltaTheoryError(f"items.curve={cfg.items.curve} cannot exceed items.test="
                               f"{cfg.items.test}")
    if cfg.batch_size < 1 or cfg.bootstrap < 100:
        raise DeltaTheoryError(f"batch_size={cfg.batch_size} must be >= 1 and "
                               f"bootstrap={cfg.bootstrap} >= 100")
    if cfg.train.method not in ("dpo", "dpo-norm", "ipo", "simpo"):
        raise DeltaTheoryError(f"train.method {cfg.train.method!r} is not a pairwise preference "
                               "loss; the ladder uses dpo, dpo-norm, ipo or simpo (and adds its "
                               "own SFT arms)")
    if cfg.train.max_steps < 1:
        raise DeltaTheoryError(f"train.max_steps={cfg.train.max_steps} must be a positive number "
                               "of optimizer steps: every arm trains that same budget")
    if not 1 <= cfg.checkpoints <= cfg.train.max_steps:
        raise DeltaTheoryError(f"checkpoints={cfg.checkpoints} must be from 1 to train.max_steps="
                               f"{cfg.train.max_steps}")
    if not cfg.seeds or len(set(cfg.seeds)) != len(cfg.seeds):
        raise DeltaTheoryError(f"seeds={cfg.seeds!r} must list at least one seed, each once")
    names = [pair_name(c, r, cfg.student) for c, r in _pairs(cfg)]
    for key in ("coin_flip", "sft_rejected"):
        for n in getattr(cfg, key):
            if n not in names:
                raise DeltaTheoryError(f"{key} names {n!r}, which is not one of the pairs: "
                                       f"{', '.join(names)}")
    task = get_task(cfg.task)
    if not task.binary or not task.prompts("test", 1, 0)[0].get("candidates"):
        raise DeltaTheoryError(f"task {cfg.task!r} has no two candidates per item; the ladder "
                               "needs a two-candidate binary task such as addition-choice")
    for split in ("train", "test"):  # the task must hold that many items
        task.prompts(split, getattr(cfg.items, split), cfg.seed)
    return cfg


def arms(cfg: LadderConfig) -> list[dict]:
    """Every arm: per pair, DPO once per seed, then SFT, reversed, the coin flip and SFT on
    the rejected answers."""
    out = []
    for c, r in _pairs(cfg):
        name = pair_name(c, r, cfg.student)
        base = {"pair": name, "chosen": c, "rejected": r}
        out += [{**base, "name": f"{name}.dpo.s{s}", "method": cfg.train.method,
                 "control": "none", "seed": s} for s in cfg.seeds]
        s0 = cfg.seeds[0]
        if cfg.sft:
            out.append({**base, "name": f"{name}.sft", "method": "sft", "control": "none",
                        "seed": s0})
        if cfg.reversed:
            out.append({**base, "name": f"{name}.reversed", "method": cfg.train.method,
                        "control": "reversed", "seed": s0})
        if name in cfg.coin_flip:
            out.append({**base, "name": f"{name}.coin-flip", "method": cfg.train.method,
                        "control": "coin-flip", "seed": s0})
        if name in cfg.sft_rejected:  # the reversed pairs' chosen side: the rejected answers
            out.append({**base, "name": f"{name}.sft-rejected", "method": "sft",
                        "control": "reversed", "seed": s0})
    return out


def margins(spec: str, rows_by_split: dict, cfg: LadderConfig, folder: Path, *, model=None,
            tokenizer=None, progress: bool = True, info: dict | None = None) -> dict:
    """Choice margins of a model on every split, cached under ``labels/`` by everything that
    determines them: the model's identity (content hash, or the fingerprint of a model in
    memory), the scoring dtype, batch and method, and the items. The prompt format (chat
    template or plain transcript) follows from a folder's tokenizer, which its content hash
    covers; a model held in memory whose ``tokenizer`` has no chat template adds "plain" to the
    key (the weights' fingerprint does not see the tokenizer). ``info["cached"]`` (when
    ``info`` is given) says whether they came from the cache."""
    import torch

    from ..choice import choice_margins
    from ..generate import model_identity
    from ..models import load, to_dtype

    ident = model_identity(spec, model)
    items = {s: [[r["id"], r["prompt"], r["candidates"]] for r in rows]
             for s, rows in rows_by_split.items()}
    plain = ["plain"] if model is not None and not getattr(tokenizer, "chat_template",
                                                           None) else []
    key = hashlib.sha256(json.dumps([ident, cfg.dtype, cfg.batch_size, "shared-prefix-2", items,
                                     *plain], sort_keys=True).encode()).hexdigest()[:12]
    path = folder / "labels" / (spec.replace("/", "__") + f".{key}.json")
    if info is not None:
        info["cached"] = path.exists()
    if path.exists():
        return json.loads(path.read_text())
    if model is None:
        model, tokenizer = load(spec, dtype=cfg.dtype)
        if torch.cuda.is_available():  # scored where trained arms are scored
            model = model.to("cuda")
    else:  # converted as load() converts (RoPE frequencies stay float32)
        model = to_dtype(model, cfg.dtype)
    out = {split: choice_margins(model, tokenizer, rows, batch_size=cfg.batch_size,
                                 progress=progress,
                                 desc=f"{short_name(spec, cfg.student)} / {split}").tolist()
           for split, rows in rows_by_split.items()}
    write_json(path, out)
    return out


def _predictions_csv(path: Path, test_rows, models, margin, short) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "truth", *(short[m] for m in models)])
    for i, r in enumerate(test_rows):
        w.writerow([r["id"], r["truth"], *(int(margin[m]["test"][i] > 0) for m in models)])
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def disagreement_pairs(rows: list[dict], chosen_labels, rejected_labels, seed: int, *,
                       control: str = "none") -> list:
    """DPO pairs on the items where two teachers pick different candidates (chosen = the chosen
    teacher's pick). Agreeing items carry no delta and are left out, as in the theory.
    ``control``: ``reversed`` swaps the sides; ``coin-flip`` picks each item's side by a seeded
    coin flip (a pair set with no delta)."""
    flips = np.random.default_rng([seed, 99]).integers(0, 2, size=len(rows))
    table = []
    for i, row in enumerate(rows):
        c, r = row["candidates"][1 - chosen_labels[i]], row["candidates"][1 - rejected_labels[i]]
        if control == "reversed" or (control == "coin-flip" and flips[i]):
            c, r = r, c
        table.append({"id": row["id"], "prompt": row["prompt"], "c": c, "r": r})
    return make_pairs(table, chosen="c", rejected="r", drop_identical=True, seed=seed)


def _answer_key(prompt, answer: str) -> str:
    return json.dumps([prompt, answer], sort_keys=True)


def answer_table(model, tokenizer, pair_sets, *, progress: bool = False) -> dict:
    """The student's (log-probability, answer tokens, summed hidden states) of every distinct
    (prompt, answer) in the pair sets, each computed once: the ladder's pair sets are drawn
    from the same training items, so they share most of their sequences."""
    from ..logprobs import completion_hidden

    items: dict[str, tuple] = {}
    for pairs in pair_sets:
        for p in pairs:
            for side in ("chosen", "rejected"):
                a = p[side][0]["content"]
                items.setdefault(_answer_key(p["prompt"], a), (p["prompt"], a))
    if not items:
        return {}
    lp, n, h = completion_hidden(model, tokenizer, list(items.values()), progress=progress,
                                 desc="student's scores of the pairs")
    return {k: (lp[i], n[i], h[i]) for i, k in enumerate(items)}


def pair_predictors(model, tokenizer, pairs: list[dict], *, table: dict | None = None) -> dict:
    """The student's training-free scores of a pair set: the mean length-normalised log-prob
    margin of chosen over rejected (the implicit-reward margin) and the mean CHES of Razin et
    al., ⟨h_c, h_r⟩ − ‖h_c‖² with h the summed last-layer hidden states over an answer's tokens
    (high CHES predicts likelihood displacement), and its length-normalised form (h averaged
    over tokens). ``table``: :func:`answer_table` of a collection holding these pairs (made
    here when not given)."""
    if table is None:
        table = answer_table(model, tokenizer, [pairs])

    def side(name):
        got = [table[_answer_key(p["prompt"], p[name][0]["content"])] for p in pairs]
        return (np.array([g[0] for g in got]), np.array([g[1] for g in got]),
                np.stack([g[2] for g in got]))

    (lc, nc, hc), (lr, nr, hr) = side("chosen"), side("rejected")
    ches = np.einsum("ij,ij->i", hc, hr) - np.einsum("ij,ij->i", hc, hc)
    hcn, hrn = hc / nc[:, None], hr / nr[:, None]
    ln_ches = np.einsum("ij,ij->i", hcn, hrn) - np.einsum("ij,ij->i", hcn, hcn)
    return {"implicit_margin": float(np.mean(lc / nc - lr / nr)),
            "logp_margin": float(np.mean(lc - lr)), "ches": float(np.mean(ches)),
            "ln_ches": float(np.mean(ln_ches))}


# bump when pair_predictors, answer_table, completion_hidden or diagnostics change
# (3: every distinct sequence scored once, over the union of the pair sets)
_PREDICTORS_VERSION = 3


class _Curve:
    """A TrainerCallback that scores the model on the curve items at the checkpoint steps.

    The model is scored as the final model is (a copy, LoRA merged, in the scoring dtype, on
    the training device), so the curve's step 0 is the student's own score on those items
    and its last point the trained model's: both come from the full evaluations and are not
    run here."""

    def __init__(self, steps, rows, tokenizer, dtype, batch_size):
        self.steps, self.rows, self.tok = set(steps), rows, tokenizer
        self.dtype, self.batch = dtype, batch_size
        self.points: list[dict] = []

    def __call__(self):  # the transformers callback object, made lazily
        from transformers import TrainerCallback

        outer = self

        class Cb(TrainerCallback):
            def on_step_end(self, args, state, control, model=None, **kw):
                if state.global_step in outer.steps:
                    outer.points.append({"step": state.global_step,
                                         "accuracy": outer.score(model)})

        return Cb()

    def margins(self, model) -> np.ndarray:
        """The choice margins of ``model`` (a training checkpoint) on the curve items."""
        import copy

        from ..choice import choice_margins
        from ..models import to_dtype

        frozen = copy.deepcopy(model)
        if hasattr(frozen, "merge_and_unload"):  # LoRA merged as train() merges it at the end
            frozen = frozen.merge_and_unload()
        frozen = to_dtype(frozen, self.dtype)
        m = choice_margins(frozen, self.tok, self.rows, batch_size=self.batch, progress=False)
        del frozen
        return m

    def score(self, model) -> float:
        truth = np.array([r["truth"] for r in self.rows])
        return float(np.mean((self.margins(model) > 0).astype(int) == truth))


def checkpoint_steps(steps: int, k: int) -> list[int]:
    """``k`` steps spread evenly over ``steps``, the last one the final step.

    >>> checkpoint_steps(24, 4)
    [6, 12, 18, 24]
    """
    return sorted({max(1, round(steps * (i + 1) / k)) for i in range(k)})


def check_loadable(models: list[str], rows: list[dict] | None = None) -> None:
    """Load every model once (building derived rungs into the cache) before a run folder
    exists, so a model that cannot be loaded is a one-line error with nothing half-written;
    with ``rows`` (a few of the task's items), each model also scores them, so a model that
    loads but cannot score the task (a tokeniser that does not fit its embeddings, a prompt
    it cannot take) is refused the same way."""
    from ..choice import choice_margins
    from ..models import load

    for m in models:
        model, tok = load(m)
        if rows:
            try:
                choice_margins(model, tok, rows, batch_size=len(rows), progress=False)
            except DeltaTheoryError:
                raise
            except Exception as exc:  # noqa: BLE001 — reported with its type; cause kept
                first = (str(exc).strip().splitlines() or [""])[0][:160]
                raise DeltaTheoryError(f"model {m!r} cannot score the task's items "
                                       f"({type(exc).__name__}: {first})") from exc
        del model


@dataclass(frozen=True)
class StudyItems:
    """The study's items: train and test rows, their truths, and the curve's test items."""

    rows: dict[str, list[dict]]
    truth: dict[str, np.ndarray]
    curve: list[dict]

    @classmethod
    def of(cls, config: LadderConfig) -> StudyItems:
        task = get_task(config.task)
        rows = {s: task.prompts(s, getattr(config.items, s), config.seed)
                for s in ("train", "test")}
        return cls(rows, {s: np.array([r["truth"] for r in rows[s]]) for s in rows},
                   rows["test"][:config.items.curve])


@dataclass(frozen=True)
class TeacherScores:
    """Every teacher's choice margins and labels on every item, and its held-out accuracy."""

    margin: dict[str, dict[str, list[float]]]  # spec -> split -> margins
    label: dict[str, dict[str, np.ndarray]]  # spec -> split -> 0/1 labels
    accuracy: dict[str, dict]  # short name -> {test, test_ci95, train}
    short: dict[str, str]  # spec -> short name
    from_cache: int
    seconds: float

    def correct(self, spec: str, items: StudyItems) -> np.ndarray:
        return (self.label[spec]["test"] == items.truth["test"]).astype(float)


@dataclass(frozen=True)
class PairPredictions:
    """Per pair, before any training: the bridge's and the simple predictors' values
    (``info``, the summary's pair records so far) and the DPO pairs (``pairs``)."""

    info: dict[str, dict]
    pairs: dict[str, list[dict]]


def score_teachers(config: LadderConfig, items: StudyItems, folder: Path, *,
                   progress=print) -> TeacherScores:
    """Step 1: every teacher's choice on every item (cached under ``labels/``), and the
    bridge's input file ``predictions.csv``."""
    models = teachers(config)
    short = {m: short_name(m, config.student) for m in models}
    t0 = time.perf_counter()
    margin, from_cache = {}, 0
    for m in models:
        progress(f"scoring {short[m]} on {sum(map(len, items.rows.values()))} items")
        got: dict = {}
        margin[m] = margins(m, items.rows, config, folder, info=got)
        from_cache += got["cached"]
    label = {m: {s: (np.array(v[s]) > 0).astype(int) for s in v} for m, v in margin.items()}
    _predictions_csv(folder / "predictions.csv", items.rows["test"], models, margin, short)
    accuracy = {}
    for m in models:
        correct = (label[m]["test"] == items.truth["test"]).astype(float)
        accuracy[short[m]] = {
            "test": float(correct.mean()),
            "test_ci95": bootstrap_ci(correct, config.bootstrap, config.seed),
            "train": float(np.mean(label[m]["train"] == items.truth["train"]))}
    return TeacherScores(margin, label, accuracy, short, from_cache,
                         round(time.perf_counter() - t0, 1))


def predict(config: LadderConfig, items: StudyItems, scores: TeacherScores, folder: Path, *,
            progress=print) -> PairPredictions:
    """Step 2: every pair's prediction and training-free scores, before any training (the
    student's scores of the pairs cached in ``predictors.json``)."""
    from deltatheory.bridge import estimate

    from ..generate import model_identity
    from ..models import load

    student, seed, short, acc = config.student, config.seed, scores.short, scores.accuracy
    truth, label = items.truth, scores.label
    right = {row["id"]: row["candidates"][1 - row["truth"]] for row in items.rows["train"]}
    pair_sets, pair_info, keys = {}, {}, {}
    for c, r in _pairs(config):
        name = pair_name(c, r, student)
        info = {"pair": name, "chosen": short[c], "rejected": short[r],
                "chosen_accuracy": acc[short[c]]["test"],
                "rejected_accuracy": acc[short[r]]["test"],
                "accuracy_gap": acc[short[c]]["test"] - acc[short[r]]["test"],
                "chosen_minus_student": acc[short[c]]["test"] - acc["student"]["test"]}
        y = np.stack([truth["test"], label[student]["test"], label[c]["test"],
                      label[r]["test"]], 1)
        try:
            info["bridge"] = estimate(y, bootstrap=config.bootstrap, seed=seed).to_dict()
        except DeltaTheoryError as e:
            info.update(bridge=None, bridge_error=str(e))
        try:
            pairs = disagreement_pairs(items.rows["train"], label[c]["train"],
                                       label[r]["train"], seed)
        except DeltaTheoryError as e:
            pairs = []
            info["pairs_error"] = str(e)
        pair_sets[name] = pairs
        info["n_pairs"] = len(pairs)
        if pairs:
            info["chosen_accuracy_on_disagreements"] = float(np.mean(
                [p["chosen"][0]["content"] == right[p["id"]] for p in pairs]))
            # keyed by what determines the scores: the code's version, the student, the
            # scoring dtype, this pair set and (the scores are computed over their union, so
            # the batches depend on it) every pair set of the study
            keys[name] = json.dumps([[p["id"], p["chosen"], p["rejected"]] for p in pairs],
                                    sort_keys=True)
        pair_info[name] = info
    every = hashlib.sha256("".join(keys.values()).encode()).hexdigest()
    student_id = model_identity(student)
    keys = {n: hashlib.sha256(json.dumps([_PREDICTORS_VERSION, student_id, config.dtype, k,
                                          every]).encode()).hexdigest()[:16]
            for n, k in keys.items()}
    pred_path = folder / "predictors.json"
    cached = json.loads(pred_path.read_text()) if pred_path.exists() else {}
    if any(cached.get(n, {}).get("key") != k for n, k in keys.items()):
        # the student's scores of every distinct sequence of every pair set, in one pass
        student_model, student_tok = load(student, dtype=config.dtype)
        n_pairs = sum(len(pair_sets[n]) for n in keys)
        progress(f"the student's scores of {n_pairs} pairs ({len(keys)} pair sets)")
        table = answer_table(student_model, student_tok, [pair_sets[n] for n in keys],
                             progress=True)
        cached = {n: {**pair_predictors(student_model, student_tok, pair_sets[n], table=table),
                      "diagnostics": diagnostics(pair_sets[n], student_tok), "key": k}
                  for n, k in keys.items()}
        write_json(pred_path, cached)
        del student_model, table
    for n in keys:
        pair_info[n].update({k: v for k, v in cached[n].items() if k != "key"})
    return PairPredictions(pair_info, pair_sets)


def train_arm(arm: dict, folder: Path, *, config: LadderConfig, items: StudyItems,
              scores: TeacherScores, predictions: PairPredictions, progress=print) -> dict:
    """Step 3, one arm: train the student with the study's budget on the arm's pairs, score it
    at the checkpoints and at the end; the arm's ``metrics.json`` record."""
    from datasets import Dataset

    from ..models import fingerprint, load
    from ..train import train

    c, r, short = arm["chosen"], arm["rejected"], scores.short
    student_margin = np.array(scores.margin[config.student]["test"])
    before = scores.correct(config.student, items)
    curve_rows, truth = items.curve, items.truth["test"]
    tcfg = merge(config.train, {"method": arm["method"], "seed": arm["seed"]})
    metrics = {"arm": arm["name"], "pair": arm["pair"], "chosen": short[c],
               "rejected": short[r], "method": arm["method"], "control": arm["control"],
               "seed": arm["seed"],
               "budget": {"steps": tcfg.max_steps, "batch_size": tcfg.batch_size,
                          "updates": tcfg.max_steps * tcfg.batch_size * tcfg.grad_accum}}
    pairs = predictions.pairs[arm["pair"]]
    if arm["control"] != "none" and pairs:
        pairs = disagreement_pairs(items.rows["train"], scores.label[c]["train"],
                                   scores.label[r]["train"], config.seed, control=arm["control"])
    metrics["n_pairs"] = len(pairs)
    after_m = student_margin
    steps = checkpoint_steps(tcfg.max_steps, config.checkpoints)
    curve = [{"step": 0, "accuracy": float(before[:len(curve_rows)].mean())}]
    cb = None
    if pairs:
        model, tok = load(config.student)
        # the curve is drawn for the DPO arms (controls and SFT: start and end only)
        if arm["method"] != "sft" and arm["control"] == "none":
            cb = _Curve(steps[:-1], curve_rows, tok, config.dtype, config.batch_size)
        progress(f"arm {arm['name']}: {tcfg.method} on {len(pairs)} pairs, "
                 f"{tcfg.max_steps} steps ({short[c]} > {short[r]}, {arm['control']})")
        model, tok, log = train(config.student, Dataset.from_list(pairs), folder, tcfg,
                                model=model, tokenizer=tok, save=False,
                                callbacks=[cb()] if cb else [])
        metrics.update(reward_stats(log), **schedule_stats(log),
                       train_config=dataclasses.asdict(tcfg),
                       trained_fingerprint=fingerprint(model))
        after_m = np.array(margins(config.student, {"test": items.rows["test"]}, config, folder,
                                   model=model, tokenizer=tok, progress=False)["test"])
        del model
    after = ((after_m > 0).astype(int) == truth).astype(float)
    # step 0 and the last step from the full evaluations (curve items are the first test
    # items, scored the same way); the steps between from the callback
    curve += (cb.points if cb else []) + [{"step": steps[-1],
                                            "accuracy": float(after[:len(curve_rows)].mean())}]
    sign = 2 * truth - 1
    mb, ma = student_margin * sign, after_m * sign
    metrics.update(
        curve=curve, accuracy_before=float(before.mean()), accuracy_after=float(after.mean()),
        observed_gain=float(after.mean() - before.mean()),
        observed_gain_ci95=paired_diff_ci(before, after, config.bootstrap, config.seed),
        margin_change=float(np.mean(ma - mb)),
        margin_change_ci95=paired_diff_ci(mb, ma, config.bootstrap, config.seed),
        correct_after=after.astype(int).tolist())
    return metrics


def aggregate(config: LadderConfig, before: np.ndarray, predictions: PairPredictions,
              results: list[dict]) -> list[dict]:
    """Step 4: per pair, the seed-averaged DPO gain (two CIs), its curve and best checkpoint,
    and the controls' gains (the pair records of the summary)."""
    by_pair: dict[str, list[dict]] = {}
    for a in results:
        by_pair.setdefault(a["pair"], []).append(a)
    out = []
    for name, info in predictions.info.items():
        info = dict(info)
        # an arm with no pairs trained nothing: its "gain" of 0 is no observation
        got = [a for a in by_pair.get(name, []) if a["n_pairs"] > 0]
        dpo = [a for a in got if a["method"] != "sft" and a["control"] == "none"]
        if dpo:
            runs = [a["correct_after"] for a in dpo]
            info["dpo_gain"] = float(np.mean(runs) - before.mean())
            # for the mean over seeds one could train (None with one seed) ...
            info["dpo_gain_ci95"] = seeds_items_ci(before, runs)
            # ... and given the seeds run (the held-out items' share alone)
            info["dpo_gain_items_ci95"] = paired_diff_ci(before, np.mean(runs, axis=0),
                                                         config.bootstrap, config.seed)
            info["dpo_gain_per_seed"] = [a["observed_gain"] for a in dpo]
            steps = [p["step"] for p in dpo[0]["curve"]]
            mean_curve = np.mean([[p["accuracy"] for p in a["curve"]] for a in dpo], axis=0)
            info["curve"] = [{"step": s, "accuracy": float(v)}
                             for s, v in zip(steps, mean_curve, strict=True)]
            best = int(np.argmax(mean_curve))
            info["best_step"] = steps[best]
            info["best_gain_on_curve"] = float(mean_curve[best] - mean_curve[0])
        for a in got:
            key = _CONTROL_KEY[(a["method"] == "sft", a["control"])]
            if key != "dpo":
                info[f"{key}_gain"] = a["observed_gain"]
                info[f"{key}_gain_ci95"] = a["observed_gain_ci95"]
        out.append(info)
    return out


# (is SFT, control) -> the summary's name of that arm's gain
_CONTROL_KEY = {(False, "none"): "dpo", (True, "none"): "sft", (True, "reversed"): "sft_rejected",
                (False, "reversed"): "reversed", (False, "coin-flip"): "coin_flip"}
#: the one-seed arms' gains (SFT and the controls train one seed each)
ONE_SEED = ("sft", "reversed", "coin_flip", "sft_rejected")


def correlations(summary: dict) -> dict:
    """Step 5, from the pair records alone (so a shipped summary can be redone without its
    run folder): every pair's DPO-gain standard error (:func:`gain_se`), the seed variance
    pooled over the DPO arms, the one-seed arms' CIs widened by it (and SFT − DPO), and each
    predictor's Spearman ρ against the DPO gain with two CIs: over pairs, seeds and items (the
    headline ``ci95``) and over pairs alone (``ci95_pairs_only``). Updates ``summary``."""
    config, pairs = summary["config"], summary["pairs"]
    n_items, boot, seed = config["items"]["test"], config["bootstrap"], config["seed"]
    pooled = pooled_seed_variance([p["dpo_gain_per_seed"] for p in pairs
                                   if p.get("dpo_gain_per_seed")])
    summary["seed_variance"] = None if pooled is None else {
        "variance": pooled[0], "sd": float(np.sqrt(pooled[0])), "df": pooled[1],
        "about": "between training seeds of one DPO arm, pooled over the pairs; borrowed for "
                 "the one-seed arms (SFT and the controls), assuming their seeds spread alike"}
    for p in pairs:
        if "dpo_gain" in p:
            se = gain_se(p["dpo_gain_per_seed"], p.get("dpo_gain_items_ci95"), n_items)
            p["dpo_gain_se"], p["dpo_gain_df"] = se if se else (None, None)
        for key in ONE_SEED:
            if pooled is None or f"{key}_gain" not in p:
                continue
            p[f"{key}_gain_seed_ci95"] = one_seed_ci(p[f"{key}_gain"], p[f"{key}_gain_ci95"],
                                                     pooled[0], pooled[1], n_items)
        if "sft_gain" in p and p.get("dpo_gain_se") is not None and pooled is not None:
            p["sft_minus_dpo"] = p["sft_gain"] - p["dpo_gain"]
            p["sft_minus_dpo_ci95"] = welch_ci(p["sft_minus_dpo"], [
                (ci_variance(p["sft_gain_ci95"]), n_items - 1), (pooled[0], pooled[1]),
                (p["dpo_gain_se"] ** 2, p["dpo_gain_df"])])
    scored = [p for p in pairs if "dpo_gain" in p]

    def value(p, key):
        if key in ("kappa", "signal"):
            return p["bridge"][key] if p.get("bridge") else None
        return p.get(key)

    spearman = {}
    for key in PREDICTORS:
        pts = [(value(p, key), p["dpo_gain"], p.get("dpo_gain_se"), p.get("dpo_gain_df"))
               for p in scored if value(p, key) is not None]
        x, y, se, df = (list(t) for t in zip(*pts, strict=True)) if pts else ([], [], [], [])
        plain = spearman_ci(x, y, boot, seed)
        if pts and all(s is not None for s in se):
            noisy = spearman_ci(x, y, boot, seed, y_se=se, y_df=df).to_dict()
        else:  # one seed somewhere: no seed spread to count
            noisy = {**plain.to_dict(), "ci95": None,
                     "why_no_ci": "a pair with one DPO seed has no measured seed spread"}
        spearman[key] = {**noisy, "ci95_pairs_only": plain.ci95}
    summary["spearman"] = spearman
    summary["spearman_ci"] = ("ci95: percentile bootstrap over pairs that also redraws each "
                              "pair's DPO gain from gain + se·t_df (its seeds-and-items "
                              "uncertainty); ci95_pairs_only: over pairs, gains taken as exact")
    return summary


def run(config: LadderConfig, out: str | Path, *, progress=print) -> dict:
    """Run the ladder of ``config`` into ``out`` (resumable per arm); returns the summary.

    The pipeline: teachers' labels → pair predictions → arms → per-pair aggregates →
    correlations, each step a function of the previous steps' outputs."""
    models = teachers(config)
    items = StudyItems.of(config)
    check_loadable(models, items.rows["test"][:2])
    the_run = Run.open(out, to_dict(config), models=models, code_version=CODE_VERSION)
    scores = score_teachers(config, items, the_run.folder, progress=progress)
    predictions = predict(config, items, scores, the_run.folder, progress=progress)
    work = functools.partial(train_arm, config=config, items=items, scores=scores,
                             predictions=predictions, progress=progress)
    results = the_run.each(arms(config), lambda a: a["name"], work, progress=progress)
    before = scores.correct(config.student, items)
    summary = {"config": to_dict(config), "task": config.task, "accuracy": scores.accuracy,
               "pairs": aggregate(config, before, predictions, results),
               "arms": [{k: v for k, v in a.items() if k != "correct_after"} for a in results],
               "predictors": PREDICTORS,
               # this invocation's scoring time; labels_from_cache models were scored earlier
               "scoring_seconds": scores.seconds, "labels_from_cache": scores.from_cache,
               "code_version": CODE_VERSION, "predictors_version": _PREDICTORS_VERSION}
    correlations(summary)
    write_summary(summary, the_run.folder)
    return summary


def write_summary(summary: dict, folder: Path) -> None:
    """``ladder.json``, ``ladder.md`` and ``ladder.png`` in ``folder`` (each written whole)."""
    from deltatheory.figures import fig8_ladder_study, render

    write_json(folder / "ladder.json", summary)
    with atomic_path(folder / "ladder.md") as tmp:
        tmp.write_text(markdown(summary))
    render(fig8_ladder_study.plot, summary, folder / "ladder.png")


def resummarise(path: str | Path) -> dict:
    """Redo the correlations of a finished study's ``ladder.json`` (no retraining: they read the
    pair records only) and rewrite its ``ladder.json``, ``ladder.md`` and ``ladder.png``."""
    path = Path(path)
    summary = correlations(json.loads(path.read_text()))
    write_summary(summary, path.parent)
    return summary


def _rho(r: dict) -> str:
    s = Spearman.from_dict(r)
    if s.rho is None:
        return f"n/a ({s.why})"
    ci = f" [{s.ci95[0]:+.2f}, {s.ci95[1]:+.2f}]" if s.ci95 else ""
    return f"{s.rho:+.2f}{ci}"


def _ci_rho(ci) -> str:
    return "—" if not ci else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def _pts(v, ci=None) -> str:
    if v is None:
        return "—"
    return f"{100 * v:+.1f}" + (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else "")


def _ci(ci) -> str:
    return "—" if not ci else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def markdown(s: dict) -> str:
    """The ladder's results (Markdown): rung accuracies, one row per pair, and ρ per
    predictor."""
    lines = ["Held-out accuracy (before training):", "", "| model | accuracy [95 % CI] |",
             "|---|---|"]
    for m, a in s["accuracy"].items():
        ci = a.get("test_ci95")
        lines.append(f"| {m} | {a['test']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
                     + " |")
    n_curve = s["config"]["items"]["curve"]
    lines += ["", "Gains in accuracy points on the held-out items (95 % CI: paired bootstrap "
              "over items). The DPO gain is the mean over training seeds, with two CIs: over "
              "seeds and items (for the mean over all seeds one could train: a t interval, "
              "Welch–Satterthwaite; none with one seed) and over items given the seeds run:", "",
              "| pair | pairs | κ [95 % CI] | predicted best gain | DPO gain [CI over seeds and "
              "items] | [CI over items, given the seeds] | DPO per seed | "
              f"curve on the first {n_curve} items: best (step) / end | SFT gain | reversed | "
              "coin flip |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in s["pairs"]:
        b = p.get("bridge")
        k = (f"{b['kappa']:+.3f} [{b['kappa_ci95'][0]:+.3f}, {b['kappa_ci95'][1]:+.3f}]"
             if b else "—")
        pg = _pts(b["predicted_gain"], b["predicted_gain_ci95"]) if b else "—"
        per_seed = " / ".join(_pts(g) for g in p.get("dpo_gain_per_seed", [])) or "—"
        curve = p.get("curve")
        lines.append(f"| {p['pair']} | {p['n_pairs']} | {k} | {pg} | "
                     f"{_pts(p.get('dpo_gain'), p.get('dpo_gain_ci95'))} | "
                     f"{_ci(p.get('dpo_gain_items_ci95'))} | {per_seed} | "
                     + (f"{_pts(p['best_gain_on_curve'])} ({p['best_step']}) / "
                        f"{_pts(curve[-1]['accuracy'] - curve[0]['accuracy'])} | "
                        if "best_step" in p else "— | ")
                     + f"{_pts(p.get('sft_gain'), p.get('sft_gain_ci95'))} | "
                     f"{_pts(p.get('reversed_gain'), p.get('reversed_gain_ci95'))} | "
                     f"{_pts(p.get('coin_flip_gain'), p.get('coin_flip_gain_ci95'))} |")
    rej = [p for p in s["pairs"] if "sft_rejected_gain" in p]
    if rej:
        lines += ["", "SFT on the rejected teacher's answers to the same items (on these items "
                  "exactly one candidate is right, so the share right is 1 − the chosen's):", "",
                  "| pair | rejected answers right | SFT on rejected | SFT on chosen | DPO |",
                  "|---|---|---|---|---|"]
        for p in rej:
            lines.append(f"| {p['pair']} | "
                         f"{1 - p['chosen_accuracy_on_disagreements']:.0%} | "
                         f"{_pts(p['sft_rejected_gain'], p.get('sft_rejected_gain_ci95'))} | "
                         f"{_pts(p.get('sft_gain'), p.get('sft_gain_ci95'))} | "
                         f"{_pts(p.get('dpo_gain'), p.get('dpo_gain_ci95'))} |")
    if any("sft_minus_dpo" in p or "reversed_gain_seed_ci95" in p for p in s["pairs"]):
        sv = s["seed_variance"]
        lines += ["", "SFT and the controls ran one training seed each. Their gains as estimates "
                  "of the mean over seeds: CI over items widened by the seed variance of the DPO "
                  f"arms, pooled over pairs (sd {100 * sv['sd']:.1f} points, {sv['df']} df; an "
                  "assumption: these arms' seeds spread as DPO's do). SFT − DPO also carries "
                  "the DPO gain's own seeds-and-items error:", "",
                  "| pair | SFT | SFT − DPO | reversed | coin flip | SFT on rejected |",
                  "|---|---|---|---|---|---|"]
        for p in s["pairs"]:
            lines.append(
                f"| {p['pair']} | {_pts(p.get('sft_gain'), p.get('sft_gain_seed_ci95'))} | "
                f"{_pts(p.get('sft_minus_dpo'), p.get('sft_minus_dpo_ci95'))} | "
                f"{_pts(p.get('reversed_gain'), p.get('reversed_gain_seed_ci95'))} | "
                f"{_pts(p.get('coin_flip_gain'), p.get('coin_flip_gain_seed_ci95'))} | "
                f"{_pts(p.get('sft_rejected_gain'), p.get('sft_rejected_gain_seed_ci95'))} |")
    lines += ["", "Spearman ρ over pairs of each predictor against the seed-averaged DPO gain, "
              "with two bootstrap 95 % CIs: over pairs, each pair's gain redrawn within its own "
              "seeds-and-items uncertainty (gain + se·t_df: every level of noise), and over pairs "
              "alone (gains taken as exact, too narrow):", "",
              "| predictor | ρ [CI over pairs, seeds and items] | [CI over pairs alone] |",
              "|---|---|---|"]
    for key, label in s["predictors"].items():
        r = s["spearman"][key]
        lines.append(f"| {label} | {_rho(r)} | {_ci_rho(r.get('ci95_pairs_only'))} |")
    return "\n".join(lines) + "\n"
