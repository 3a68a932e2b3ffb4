"""The separation study: does κ tell a practitioner more than the accuracy gap? (issue 23)

The ladder study's teachers are pruned copies of the student, so a teacher's agreement with the
student falls in step with its accuracy and κ moves in step with the accuracy gap: its pairs
cannot tell the two predictors apart. This study adds teachers whose errors are not tied to
their accuracy, picks pairs on which κ and the gap *disagree* by a rule fixed before any
training, commits every pair's predictions before the first arm trains, and then trains.

Teachers
    The student; magnitude-pruned copies of it (``NAME@prune-S``); a model of **another family**
    (the base Gemma 3 270M, scored through a plain "Question/Answer" transcript, and its pruned
    copies); and **constructed** teachers (``constructed`` in the config): a named source
    ("truth" or another teacher) whose every label is flipped with probability ``flip`` by a
    hash of the study seed, the teacher's name and the question, so they are deterministic and
    need no model. ``truth~flip-0.1`` is a 90 % teacher whose errors are new to every model;
    ``student~flip-0.2`` keeps the student's errors and adds new ones at random.

Steps (:func:`run` reads top to bottom)
    1. **Labels** (:func:`score`): every teacher's choice on the train, test and validation
       items, in float32 (bf16 flips 0.3–3.5 % of labels here: see the precision study).
    2. **Candidates** (:func:`candidates`): every unordered pair of teachers, chosen = the more
       accurate on the test items (the paper's choice: the better model is chosen), with at
       least ``select.min_pairs`` training disagreements; per pair κ (the bridge, with its CI),
       the accuracy gap and the other training-free predictors.
    3. **Noise** (:func:`noise_study`): which training setting resolves a pair's gain. DPO arms on
       ``noise.pairs`` pairs, evaluated on the *validation* items, several seeds; on the first
       pair the seed is split into the pairs it draws (``data_seed``) and the adapter's
       initialisation (``seed``), and the learning rate is halved; the first setting in
       ``noise.settings`` whose projected median half-width on the test items is at most
       ``noise.target_half_width`` is the study's (:func:`projected_half_width`).
    4. **Selection and pre-registration** (:func:`select`, :func:`preregister`): the rule in
       ``select`` picks the pairs; their predictions, the rule, the setting and a hash of the
       configuration are written to ``preregistration`` and, outside ``--quick``, the run stops
       there: commit the file, then run again. A later run recomputes everything and refuses
       (one line, exit 2) a file that does not match.
    5. **Arms** (per pair, the same budget each): DPO once per seed; SFT on *all* of the chosen
       teacher's answers to the training items (the paper's SFT, including the items where both
       teachers give the same wrong answer, which DPO never sees); SFT on the chosen side of the
       disagreement pairs (the ladder's SFT); the reversed control on ``select.n_reversed``
       pairs. Arms run seed-major (every pair's first seed before any second seed), so an
       unfinished study is a complete smaller one.
    6. **Answers** (:func:`analyse`): ρ of every predictor with the gain (CIs over pairs, seeds
       and items), the partial rank correlation of κ given the gap and of the gap given κ, the
       sign each got right on the pairs where they disagree, the paper's §5 contrast (SFT on
       all chosen answers against DPO) and how a κ → gain line fitted on one family's pairs
       predicts the other's.

The run folder holds ``config.json``, ``labels/``, ``candidates.json``, ``arms/<arm>/`` (noise
and study arms; a rerun skips finished arms), ``predictors.json``, ``separation.json`` and
``separation.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deltatheory._io import atomic_path, dumps, write_json
from deltatheory.errors import DeltaTheoryError

from ..config import build, merge, read_yaml, to_dict
from ..runs import Run
from ..tasks import get_task
from ..train import TrainConfig, reward_stats, schedule_stats
from . import ladder

__all__ = ["SeparationConfig", "load_config", "run", "score", "candidates", "noise_study",
           "projected_half_width", "select", "preregister", "arms", "analyse", "markdown",
           "STUDY", "CODE_VERSION", "constructed_margins", "family"]

#: The shipped study, the default of ``deltatheory llm separation`` (``experiments/
#: separation.yaml`` is a link to this file).
STUDY = Path(__file__).with_name("separation.yaml")

#: Bumped with any change that alters a number an arm, a label or a selection writes (a resume by
#: other code is refused, see :meth:`Run.open`).
CODE_VERSION = "separation-1"

#: what the pre-registration file must match on a rerun (key → what it is)
PREREGISTERED = ("config_hash", "code_version", "setting", "pairs", "reversed", "hypotheses")


def _separation_train() -> TrainConfig:
    # the ladder's training setting (12 steps of 8 pairs, LoRA bf16), the first candidate
    return TrainConfig(method="dpo", learning_rate=2.0e-4, batch_size=8, max_length=128,
                       max_steps=12, subsample=True, precompute_ref=True)


@dataclass(frozen=True)
class SepItems:
    train: int = 1200
    test: int = 2000
    validation: int = 409


@dataclass(frozen=True)
class Select:
    """The pair-selection rule (see :func:`select`)."""

    n_pairs: int = 20          # pairs in the study
    n_disagree: int = 10       # of which at least this many where κ and the gap disagree
    min_pairs: int = 96        # a candidate needs this many training disagreements (the budget)
    rank_gap: float = 0.33     # "ranks far apart": |rank share of κ − rank share of the gap|
    max_per_teacher: int = 6   # no teacher in more selected pairs than this (either side)
    n_reversed: int = 6        # the reversed control on the selected pairs with the largest |κ|


@dataclass(frozen=True)
class Noise:
    """The noise study (see :func:`noise_study`)."""

    pairs: int = 2                    # candidate pairs at evenly spaced accuracy-gap quantiles
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    split_seeds: list[int] = field(default_factory=lambda: [1, 2, 3])  # data / init apart
    lr_factor: float = 0.5            # the learning rate scaled, on the first pair
    target_half_width: float = 0.025  # on the test items, for the median pair
    # candidate settings (overrides of ``train``, and ``seeds``: how many DPO seeds per pair),
    # cheapest first; the first whose projection meets the target is used
    settings: list[dict] = field(default_factory=lambda: [{}])


def _quick() -> dict:
    return {"items": {"train": 96, "test": 60, "validation": 40},
            "select": {"n_pairs": 3, "n_disagree": 1, "min_pairs": 4, "n_reversed": 1},
            "noise": {"pairs": 1, "seeds": [0, 1], "split_seeds": [1]},
            "seeds": [0, 1], "train": {"max_steps": 2, "batch_size": 4}}


@dataclass(frozen=True)
class SeparationConfig:
    """Every default of the separation study, in one place."""

    name: str = "separation"
    student: str = "smollm2-135m-instruct"
    teachers: list[str] = field(default_factory=lambda: [
        "smollm2-135m-instruct@prune-0.3", "smollm2-135m-instruct@prune-0.4"])
    # {name, source: "truth" or a teacher's short name, flip: share of labels flipped}
    constructed: list[dict] = field(default_factory=lambda: [
        {"name": "truth~flip-0.1", "source": "truth", "flip": 0.1}])
    task: str = "addition-choice-v2"
    seed: int = 0
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3])  # DPO training seeds
    items: SepItems = field(default_factory=SepItems)
    dtype: str = "fp32"        # every label and every evaluation
    batch_size: int = 64       # scoring: items per forward pass
    bootstrap: int = 2000
    select: Select = field(default_factory=Select)
    noise: Noise = field(default_factory=Noise)
    train: TrainConfig = field(default_factory=_separation_train)
    # where the pre-registration is kept (relative paths: to the working directory); None: in
    # the run folder. Outside --quick a run with no file writes it and stops.
    preregistration: str | None = None
    quick: dict = field(default_factory=_quick)
    quick_mode: bool = False


# --------------------------------------------------------------------------- configuration
def short_name(spec: str, student: str) -> str:
    return ladder.short_name(spec, student)


def family(name: str, config: SeparationConfig) -> str:
    """A teacher's family: the base model of its spec (``smollm2-135m-instruct``,
    ``gemma3-270m``, …), or ``constructed``."""
    from ..models import parse_spec

    if name in {c["name"] for c in config.constructed}:
        return "constructed"
    spec = config.student if name == "student" else next(
        (t for t in config.teachers if short_name(t, config.student) == name), name)
    return parse_spec(spec).base


def teacher_names(config: SeparationConfig) -> list[str]:
    """Every teacher's short name: the student, the model teachers, the constructed ones."""
    return (["student"] + [short_name(t, config.student) for t in config.teachers]
            + [c["name"] for c in config.constructed])


def load_config(path: str | Path | None = None, *, quick: bool = False,
                overrides: dict | None = None) -> SeparationConfig:
    """Defaults ⊕ the YAML file ⊕ ``overrides`` (⊕ the ``quick`` block when ``quick``)."""
    from ..models import normalize_dtype, parse_spec

    cfg = build(SeparationConfig, read_yaml(path) if path is not None else {})
    if overrides:
        cfg = merge(cfg, overrides)
    if quick:
        cfg = merge(cfg, cfg.quick, "quick.")
    cfg = dataclasses.replace(cfg, quick_mode=bool(quick), dtype=normalize_dtype(cfg.dtype))
    for m in [cfg.student, *cfg.teachers]:
        parse_spec(m)
    if cfg.student in cfg.teachers:
        raise DeltaTheoryError(f"teachers lists the student {cfg.student!r}: the student is "
                               "always a teacher; list the others")
    names = ["student"] + [short_name(t, cfg.student) for t in cfg.teachers]
    if len(set(names)) != len(names):
        raise DeltaTheoryError(f"teachers {cfg.teachers!r} name a model twice")
    for c in cfg.constructed:
        if set(c) != {"name", "source", "flip"}:
            raise DeltaTheoryError(f"constructed entry {c!r} needs exactly name, source, flip")
        if not isinstance(c["name"], str) or "~" not in c["name"] or c["name"] in names:
            raise DeltaTheoryError(f"constructed name {c['name']!r} must be new and contain '~' "
                                   "(e.g. truth~flip-0.1), so it is never a model name")
        if c["source"] not in ("truth", *names):
            raise DeltaTheoryError(f"constructed {c['name']!r}: source {c['source']!r} is not "
                                   f"truth or one of the teachers: {', '.join(names)}")
        f = c["flip"]
        if isinstance(f, bool) or not isinstance(f, int | float) or not 0 <= f <= 0.5:
            raise DeltaTheoryError(f"constructed {c['name']!r}: flip={f!r} must be a number "
                                   "from 0 to 0.5")
        names.append(c["name"])
    if len(names) < 3:
        raise DeltaTheoryError("the study needs at least three teachers (the student and two "
                               "more) to have pairs to choose from")
    for k in ("train", "test", "validation"):
        if getattr(cfg.items, k) < 1:
            raise DeltaTheoryError(f"items.{k}={getattr(cfg.items, k)} must be at least 1")
    s = cfg.select
    if not 1 <= s.n_disagree <= s.n_pairs or s.min_pairs < 1 or not 0 < s.rank_gap < 1 \
            or s.max_per_teacher < 1 or not 0 <= s.n_reversed <= s.n_pairs:
        raise DeltaTheoryError(f"select={dataclasses.asdict(s)} needs 1 <= n_disagree <= "
                               "n_pairs, min_pairs >= 1, 0 < rank_gap < 1, max_per_teacher >= 1, "
                               "0 <= n_reversed <= n_pairs")
    n = cfg.noise
    if n.pairs < 1 or len(n.seeds) < 2 or len(set(n.seeds)) != len(n.seeds) \
            or not n.settings or not 0 < n.lr_factor or not 0 < n.target_half_width < 1:
        raise DeltaTheoryError(f"noise={dataclasses.asdict(n)} needs pairs >= 1, at least two "
                               "different seeds, one setting or more, lr_factor > 0 and "
                               "0 < target_half_width < 1")
    for i, st in enumerate(n.settings):
        _setting(cfg, st, f"noise.settings[{i}]")
    if len(cfg.seeds) < 2 or len(set(cfg.seeds)) != len(cfg.seeds):
        raise DeltaTheoryError(f"seeds={cfg.seeds!r} must list at least two seeds, each once: "
                               "a pair's seed spread is part of its interval")
    if cfg.train.method not in ("dpo", "dpo-norm", "ipo", "simpo") or cfg.train.max_steps < 1:
        raise DeltaTheoryError(f"train.method={cfg.train.method!r} must be a pairwise preference "
                               "loss (dpo, dpo-norm, ipo, simpo) with max_steps set: every arm "
                               "trains the same budget")
    if cfg.batch_size < 1 or cfg.bootstrap < 100:
        raise DeltaTheoryError(f"batch_size={cfg.batch_size} must be >= 1 and "
                               f"bootstrap={cfg.bootstrap} >= 100")
    task = get_task(cfg.task)
    if not task.binary or not task.prompts("test", 1, 0)[0].get("candidates"):
        raise DeltaTheoryError(f"task {cfg.task!r} has no two candidates per item; the study "
                               "needs a two-candidate binary task such as addition-choice-v2")
    for split in ("train", "test", "validation"):
        task.prompts(split, getattr(cfg.items, split), cfg.seed)
    return cfg


def _setting(config: SeparationConfig, over: dict, where: str = "setting"):
    """(TrainConfig, seeds) of a candidate setting: ``train`` overrides and ``seeds``."""
    if not isinstance(over, dict):
        raise DeltaTheoryError(f"{where}={over!r} must be a mapping of train settings")
    over = dict(over)
    seeds = over.pop("seeds", config.seeds)
    if not isinstance(seeds, list) or len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise DeltaTheoryError(f"{where}.seeds={seeds!r} must list at least two seeds, each once")
    return merge(config.train, over, f"{where}."), list(seeds)


# --------------------------------------------------------------------------- items and labels
@dataclass(frozen=True)
class Items:
    rows: dict[str, list[dict]]
    truth: dict[str, np.ndarray]

    @classmethod
    def of(cls, config: SeparationConfig) -> Items:
        task = get_task(config.task)
        rows = {s: task.prompts(s, getattr(config.items, s), config.seed)
                for s in ("train", "test", "validation")}
        return cls(rows, {s: np.array([r["truth"] for r in rows[s]]) for s in rows})


def _flip_draw(seed: int, name: str, row: dict) -> float:
    """A uniform number in [0, 1) fixed by the study seed, the teacher's name and the question
    (its prompt and candidates), so a constructed teacher labels an item the same way in any
    split, at any size and in any order."""
    key = json.dumps([seed, name, row["prompt"], row["candidates"]], sort_keys=True)
    return int(hashlib.sha256(key.encode()).hexdigest()[:13], 16) / 16**13


def constructed_margins(entry: dict, source: dict[str, list[float]] | None,
                        rows: dict[str, list[dict]], seed: int) -> dict[str, list[float]]:
    """The margins of a constructed teacher: its source's (``None``: the truth, as ±1) with the
    sign flipped on each item whose draw (:func:`_flip_draw`) is below ``entry["flip"]``.

    >>> rows = {"test": [{"prompt": "q", "candidates": ["a", "b"], "truth": 1}]}
    >>> constructed_margins({"name": "truth~flip-0", "source": "truth", "flip": 0}, None, rows, 0)
    {'test': [1.0]}
    """
    out = {}
    for split, rs in rows.items():
        base = (np.array([1.0 if r["truth"] == 1 else -1.0 for r in rs]) if source is None
                else np.asarray(source[split], dtype=float))
        flip = np.array([_flip_draw(seed, entry["name"], r) < entry["flip"] for r in rs])
        out[split] = np.where(flip, -base, base).tolist()
    return out


@dataclass(frozen=True)
class Scores:
    """Every teacher's margins and labels (by short name) and its accuracy per split."""

    margin: dict[str, dict[str, list[float]]]
    label: dict[str, dict[str, np.ndarray]]
    accuracy: dict[str, dict]
    seconds: float

    def correct(self, name: str, items: Items, split: str = "test") -> np.ndarray:
        return (self.label[name][split] == items.truth[split]).astype(float)


def score(config: SeparationConfig, items: Items, folder: Path, *, progress=print) -> Scores:
    """Step 1: every teacher's choice margins on every split (model teachers cached under
    ``labels/`` as the ladder caches them; constructed teachers derived from their source)."""
    t0 = time.perf_counter()
    margin = {}
    for spec in [config.student, *config.teachers]:
        name = short_name(spec, config.student)
        progress(f"scoring {name} on {sum(map(len, items.rows.values()))} items "
                 f"({config.dtype})")
        margin[name] = ladder.margins(spec, items.rows, config, folder, progress=False)
    for c in config.constructed:
        margin[c["name"]] = constructed_margins(
            c, None if c["source"] == "truth" else margin[c["source"]], items.rows, config.seed)
    label = {m: {s: (np.array(v[s]) > 0).astype(int) for s in v} for m, v in margin.items()}
    accuracy = {}
    for m in margin:
        correct = (label[m]["test"] == items.truth["test"]).astype(float)
        accuracy[m] = {"test": float(correct.mean()),
                       "test_ci95": ladder.bootstrap_ci(correct, config.bootstrap, config.seed),
                       **{s: float(np.mean(label[m][s] == items.truth[s]))
                          for s in ("train", "validation")},
                       "family": family(m, config)}
    return Scores(margin, label, accuracy, round(time.perf_counter() - t0, 1))


# --------------------------------------------------------------------------- candidates
def _pair_name(c: str, r: str) -> str:
    return f"{c}-over-{r}"


def candidates(config: SeparationConfig, items: Items, scores: Scores,
               dropped: list | None = None) -> list[dict]:
    """Step 2: every unordered pair of teachers with at least ``select.min_pairs`` training
    disagreements, chosen = the more accurate on the test items (ties: the earlier teacher),
    with κ (the bridge, on the test items), the accuracy gap and the other training-free
    predictors that need no model (the student's scores of the pairs come with the selection).
    ``dropped``: a list that receives ``{"pair", "reason"}`` for each pair left out."""
    from deltatheory.bridge import estimate

    names = teacher_names(config)
    acc = scores.accuracy
    right = {r["id"]: r["candidates"][1 - r["truth"]] for r in items.rows["train"]}
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            c, r = (a, b) if acc[a]["test"] >= acc[b]["test"] else (b, a)
            lc, lr = scores.label[c], scores.label[r]
            n_train = int(np.sum(lc["train"] != lr["train"]))
            if n_train < config.select.min_pairs:
                if dropped is not None:
                    dropped.append({"pair": _pair_name(c, r), "reason": (
                        f"{n_train} training disagreements < select.min_pairs="
                        f"{config.select.min_pairs}")})
                continue
            y = np.stack([items.truth["test"], scores.label["student"]["test"], lc["test"],
                          lr["test"]], 1)
            try:
                bridge = estimate(y, bootstrap=config.bootstrap, seed=config.seed).to_dict()
            except DeltaTheoryError as e:  # a pair the bridge cannot place has no κ to test
                if dropped is not None:
                    dropped.append({"pair": _pair_name(c, r), "reason": f"bridge: {e}"})
                continue
            dis = lc["train"] != lr["train"]
            chosen_right = [items.rows["train"][k]["candidates"][1 - lc["train"][k]]
                            == right[items.rows["train"][k]["id"]] for k in np.flatnonzero(dis)]
            out.append({
                "pair": _pair_name(c, r), "chosen": c, "rejected": r,
                "families": [acc[c]["family"], acc[r]["family"]],
                "chosen_accuracy": acc[c]["test"], "rejected_accuracy": acc[r]["test"],
                "accuracy_gap": acc[c]["test"] - acc[r]["test"],
                "chosen_minus_student": acc[c]["test"] - acc["student"]["test"],
                "n_pairs": n_train,
                "chosen_accuracy_on_disagreements": float(np.mean(chosen_right)),
                "agreement_with_student": {
                    "chosen": float(np.mean(lc["test"] == scores.label["student"]["test"])),
                    "rejected": float(np.mean(lr["test"] == scores.label["student"]["test"]))},
                "bridge": bridge})
    return out


# --------------------------------------------------------------------------- one arm
def train_one(config: SeparationConfig, tcfg: TrainConfig, rows: list[dict], method: str, *,
              folder: Path, items: Items, scores: Scores, split: str) -> dict:
    """Train the student on ``rows`` (pairs, or prompt/answer rows for SFT) with ``tcfg`` and
    score it on ``split``: the arm's gain over the student there, with the items' CI."""
    from datasets import Dataset

    from ..models import fingerprint, load
    from ..train import train

    tcfg = merge(tcfg, {"method": method})
    model, tok = load(config.student)
    model, tok, log = train(config.student, Dataset.from_list(rows), folder, tcfg, model=model,
                            tokenizer=tok, save=False)
    after_m = np.array(ladder.margins(config.student, {split: items.rows[split]}, config, folder,
                                      model=model, tokenizer=tok, progress=False)[split])
    fp = fingerprint(model)
    del model
    truth = items.truth[split]
    before = scores.correct("student", items, split)
    after = ((after_m > 0).astype(int) == truth).astype(float)
    return {**reward_stats(log), **schedule_stats(log), "train_config": dataclasses.asdict(tcfg),
            "trained_fingerprint": fp, "split": split, "n_rows": len(rows),
            "accuracy_before": float(before.mean()), "accuracy_after": float(after.mean()),
            "observed_gain": float(after.mean() - before.mean()),
            "observed_gain_ci95": ladder.paired_diff_ci(before, after, config.bootstrap,
                                                        config.seed),
            "correct_after": after.astype(int).tolist()}


def pair_rows(items: Items, scores: Scores, c: str, r: str, seed: int, kind: str) -> list[dict]:
    """The training rows of an arm. ``dpo``/``reversed``: the disagreement pairs (chosen =
    ``c``'s answer; reversed swaps them); ``sft``: the same pairs (SFT reads the chosen side);
    ``sft-all``: ``c``'s answer to *every* training item (its right and its wrong answers,
    including those it shares with ``r``), as the paper's SFT baseline."""
    rows = items.rows["train"]
    if kind == "sft-all":
        return [{"id": row["id"], "prompt": row["prompt"],
                 "chosen": [{"role": "assistant",
                             "content": row["candidates"][1 - scores.label[c]["train"][k]]}],
                 "rejected": [{"role": "assistant",
                               "content": row["candidates"][scores.label[c]["train"][k]]}]}
                for k, row in enumerate(rows)]
    return ladder.disagreement_pairs(rows, scores.label[c]["train"], scores.label[r]["train"],
                                     seed, control="reversed" if kind == "reversed" else "none")


# --------------------------------------------------------------------------- noise
def projected_half_width(per_seed: np.ndarray, before: np.ndarray, after: np.ndarray,
                         n_seeds: int, n_test: int) -> dict:
    """The 95 % seeds-and-items half-width a pair's seed-averaged gain would have on ``n_test``
    held-out items with ``n_seeds`` seeds, from its noise-study arms: ``per_seed`` their gains on
    the validation items, ``after`` (seeds, items) their per-item correctness, ``before`` the
    student's. Seeds' share: the per-seed gains' variance / n_seeds; items' share: the variance
    over items of (mean over seeds of after − before) / n_test; Welch–Satterthwaite df, the
    seeds' share with the df of the noise study's seeds (``len(per_seed) − 1``, not
    ``n_seeds − 1``: conservative when projecting to more seeds than were run; this is the rule
    the shipped study registered).

    >>> b = np.array([0, 1] * 50, float); a = np.array([[1, 1] * 50, [0, 1] * 50], float)
    >>> r = projected_half_width(np.array([0.5, 0.0]), b, a, 4, 2000)
    >>> round(r["seeds_share"], 5), round(r["df"], 2), round(r["half_width"], 3)
    (0.03125, 1.0, 2.237)
    """
    from scipy import stats

    g = np.asarray(per_seed, dtype=float)
    seeds = g.var(ddof=1) / n_seeds
    d = np.asarray(after, dtype=float).mean(axis=0) - np.asarray(before, dtype=float)
    item = d.var(ddof=1) / n_test
    se2 = seeds + item
    df = se2**2 / (seeds**2 / (len(g) - 1) + item**2 / (n_test - 1)) if se2 > 0 else np.inf
    return {"half_width": float(stats.t.ppf(0.975, df) * np.sqrt(se2)), "df": float(df),
            "seed_sd": float(g.std(ddof=1)), "seeds_share": float(seeds),
            "items_share": float(item)}


def noise_pairs(config: SeparationConfig, cands: list[dict]) -> list[dict]:
    """The noise study's pairs: among candidates whose two teachers are the student's own
    family (the ladder's kind of pair), those at evenly spaced quantiles of the accuracy gap
    (``noise.pairs`` of them, away from the ends)."""
    own = family("student", config)
    pool = sorted((c for c in cands if c["families"] == [own, own]),
                  key=lambda c: (c["accuracy_gap"], c["pair"]))
    if not pool:
        pool = sorted(cands, key=lambda c: (c["accuracy_gap"], c["pair"]))
    if not pool:
        raise DeltaTheoryError("no candidate pair has enough training disagreements "
                               f"(select.min_pairs={config.select.min_pairs})")
    k = config.noise.pairs
    at = sorted({int(round((i + 1) * (len(pool) - 1) / (k + 1))) for i in range(k)})
    return [pool[i] for i in at]


def noise_arms(config: SeparationConfig, pairs: list[dict], setting: int) -> list[dict]:
    """The noise study's arms for candidate setting ``setting`` (index into ``noise.settings``):
    every noise pair at every noise seed; for the first setting also, on the first pair, the
    data seed and the initialisation seed varied apart and the learning rate scaled."""
    tcfg, _ = _setting(config, config.noise.settings[setting])
    tag = _setting_tag(config.noise.settings[setting])
    out = []
    for p in pairs:
        for s in config.noise.seeds:
            out.append({"name": f"noise.{tag}.{p['pair']}.s{s}", "pair": p["pair"],
                        "chosen": p["chosen"], "rejected": p["rejected"], "setting": setting,
                        "kind": "seeds", "seed": s, "data_seed": s,
                        "learning_rate": tcfg.learning_rate})
    if setting == 0:
        p, s0 = pairs[0], config.noise.seeds[0]
        for s in config.noise.split_seeds:
            base = {"pair": p["pair"], "chosen": p["chosen"], "rejected": p["rejected"],
                    "setting": 0, "learning_rate": tcfg.learning_rate}
            out.append({**base, "name": f"noise.{tag}.{p['pair']}.init{s}", "kind": "init",
                        "seed": s, "data_seed": s0})
            out.append({**base, "name": f"noise.{tag}.{p['pair']}.data{s}", "kind": "data",
                        "seed": s0, "data_seed": s})
        lr = tcfg.learning_rate * config.noise.lr_factor
        for s in config.noise.seeds:
            out.append({"name": f"noise.{tag}.{p['pair']}.lr{config.noise.lr_factor:g}.s{s}",
                        "pair": p["pair"], "chosen": p["chosen"], "rejected": p["rejected"],
                        "setting": 0, "kind": "lr", "seed": s, "data_seed": s,
                        "learning_rate": lr})
    return out


def _setting_tag(over: dict) -> str:
    """A noise arm's setting in its name: ``base`` (the study's ``train``) or a short hash of
    the training overrides (``seeds`` left out: settings that differ only in how many seeds
    they would run share their noise arms)."""
    train = {k: v for k, v in over.items() if k != "seeds"}
    if not train:
        return "base"
    return "set-" + hashlib.sha256(json.dumps(train, sort_keys=True).encode()).hexdigest()[:8]


def noise_study(config: SeparationConfig, items: Items, scores: Scores, cands: list[dict],
                run: Run, *, progress=print, train: bool = True) -> dict:
    """Step 3: the setting the study trains with, and what drives a pair's seed spread.
    ``train=False``: every arm it needs must be finished already (else a one-line error)."""
    pairs = noise_pairs(config, cands)
    n_test = config.items.test
    before = scores.correct("student", items, "validation")
    report = {"pairs": [p["pair"] for p in pairs], "split": "validation",
              "target_half_width": config.noise.target_half_width, "settings": []}

    def work(arm, folder):
        tcfg, _ = _setting(config, config.noise.settings[arm["setting"]])
        tcfg = merge(tcfg, {"seed": arm["seed"], "data_seed": arm["data_seed"],
                            "learning_rate": arm["learning_rate"]})
        rows = pair_rows(items, scores, arm["chosen"], arm["rejected"], config.seed, "dpo")
        progress(f"noise arm {arm['name']}")
        return {"arm": arm["name"],
                **{k: arm[k] for k in ("pair", "kind", "seed", "data_seed", "setting",
                                       "learning_rate")},
                **train_one(config, tcfg, rows, tcfg.method, folder=folder, items=items,
                            scores=scores, split="validation")}

    chosen = None
    for i, st in enumerate(config.noise.settings):
        _, seeds = _setting(config, st)
        todo = [a["name"] for a in noise_arms(config, pairs, i)
                if not (run.arm_folder(a["name"]) / "metrics.json").exists()]
        if todo and not train:
            raise DeltaTheoryError(f"noise arm {todo[0]} is not finished: run the study "
                                   "(without --report) first")
        results = run.each(noise_arms(config, pairs, i), lambda a: a["name"], work,
                           progress=progress)
        per_pair = []
        for p in pairs:
            got = [a for a in results if a["pair"] == p["pair"] and a["kind"] == "seeds"]
            proj = projected_half_width(np.array([a["observed_gain"] for a in got]), before,
                                        np.array([a["correct_after"] for a in got]), len(seeds),
                                        n_test)
            per_pair.append({"pair": p["pair"], "gains": [a["observed_gain"] for a in got],
                             **proj})
        median = float(np.median([p["half_width"] for p in per_pair]))
        entry = {"setting": st, "seeds": seeds, "per_pair": per_pair,
                 "median_half_width": median,
                 "meets_target": median <= config.noise.target_half_width}
        if i == 0:
            entry["drivers"] = _drivers(results, pairs[0]["pair"])
        report["settings"].append(entry)
        if entry["meets_target"]:
            chosen = i
            break
    if chosen is None:  # none meets the target: the one closest to it, said so
        chosen = int(np.argmin([e["median_half_width"] for e in report["settings"]]))
    report["chosen"] = chosen
    report["chosen_setting"] = config.noise.settings[chosen]
    report["rule"] = ("the first setting in noise.settings whose projected median seeds-and-"
                      "items 95 % half-width on the test items is at most target_half_width; "
                      "if none, the one with the smallest")
    return report


def _drivers(results: list[dict], pair: str) -> dict:
    """The first noise pair's gain spread (sd over runs, in points) with everything varied,
    with only the pairs drawn (and their order) varied, with only the initialisation varied,
    and at the scaled learning rate."""
    mine = [a for a in results if a["pair"] == pair]
    full = [a for a in mine if a["kind"] == "seeds"]
    s0 = full[0]

    def sd(arms):
        g = [a["observed_gain"] for a in arms]
        return {"n": len(g), "gains": g, "sd": float(np.std(g, ddof=1)) if len(g) > 1 else None,
                "mean": float(np.mean(g))}

    return {"pair": pair, "everything": sd(full),
            "data_only": sd([s0] + [a for a in mine if a["kind"] == "data"]),
            "init_only": sd([s0] + [a for a in mine if a["kind"] == "init"]),
            "learning_rate_scaled": {**sd([a for a in mine if a["kind"] == "lr"]),
                                     "learning_rate": next((a["learning_rate"] for a in mine
                                                            if a["kind"] == "lr"), None)}}


# --------------------------------------------------------------------------- selection
def select(config: SeparationConfig, cands: list[dict]) -> list[dict]:
    """Step 4: the study's pairs, by the rule in ``select`` (fixed before any arm trains).

    Over the candidates, κ and the accuracy gap are turned into rank shares (0 lowest, 1
    highest). A candidate *disagrees* when the two predict opposite signs — κ < 0 with a
    positive gap, or κ > 0 with a zero gap (a gap is ≥ 0 by construction; κ < 0 with a zero
    gap is not counted as opposite) — or when its two rank shares differ by at least
    ``rank_gap``.
    1. Disagreeing candidates, opposite signs first, then by the rank difference (largest
       first), are taken in turn, skipping any that would put a teacher in more than
       ``max_per_teacher`` selected pairs, up to ``n_disagree`` of them.
    2. The rest, up to ``n_pairs``, from the remaining candidates sorted by κ, at evenly spaced
       positions (so the selection spans κ's range), with the same cap per teacher.
    3. The reversed control runs on the ``n_reversed`` selected pairs with the largest |κ|.
    Ties are broken by the pair's name, so the result is a function of the labels alone.
    """
    s = config.select
    if len(cands) < s.n_pairs:
        raise DeltaTheoryError(f"only {len(cands)} candidate pairs have at least "
                               f"select.min_pairs={s.min_pairs} training disagreements; "
                               f"select.n_pairs={s.n_pairs} needs more teachers or fewer pairs")
    from scipy.stats import rankdata

    k = np.array([c["bridge"]["kappa"] for c in cands])
    gap = np.array([c["accuracy_gap"] for c in cands])
    qk = (rankdata(k) - 1) / max(len(k) - 1, 1)
    qg = (rankdata(gap) - 1) / max(len(gap) - 1, 1)
    info = []
    for i, c in enumerate(cands):
        opposite = bool(k[i] < 0 < gap[i]) or bool(k[i] > 0 and gap[i] == 0)
        info.append({**c, "rank_share_kappa": float(qk[i]), "rank_share_gap": float(qg[i]),
                     "opposite_signs": opposite,
                     "disagree": opposite or abs(qk[i] - qg[i]) >= s.rank_gap})
    use: dict[str, int] = {}
    chosen: list[dict] = []

    def take(c) -> bool:
        if any(use.get(t, 0) >= s.max_per_teacher for t in (c["chosen"], c["rejected"])):
            return False
        for t in (c["chosen"], c["rejected"]):
            use[t] = use.get(t, 0) + 1
        chosen.append(c)
        return True

    dis = sorted((c for c in info if c["disagree"]),
                 key=lambda c: (not c["opposite_signs"],
                                -abs(c["rank_share_kappa"] - c["rank_share_gap"]), c["pair"]))
    n_dis = 0
    for c in dis:
        if n_dis == s.n_disagree:
            break
        n_dis += take(c)
    rest = sorted((c for c in info if c not in chosen), key=lambda c: (c["bridge"]["kappa"],
                                                                       c["pair"]))
    while len(chosen) < s.n_pairs and rest:
        need = s.n_pairs - len(chosen)
        at = sorted({int(round(j * (len(rest) - 1) / max(need - 1, 1))) for j in range(need)})
        took = [rest[j] for j in at if take(rest[j])]
        rest = [c for c in rest if c not in took]
        if not took:  # the cap blocks every evenly spaced one: take the next allowed in order
            nxt = next((c for c in rest if take(c)), None)
            if nxt is None:
                break
            rest.remove(nxt)
    if len(chosen) < s.n_pairs:
        raise DeltaTheoryError(f"select.max_per_teacher={s.max_per_teacher} leaves only "
                               f"{len(chosen)} pairs of select.n_pairs={s.n_pairs}: raise it")
    chosen.sort(key=lambda c: (-c["bridge"]["kappa"], c["pair"]))
    by_k = sorted(chosen, key=lambda c: (-abs(c["bridge"]["kappa"]), c["pair"]))
    rev = {c["pair"] for c in by_k[:s.n_reversed]}
    for c in chosen:
        c["reversed_control"] = c["pair"] in rev
    return chosen


def student_scores(config: SeparationConfig, items: Items, scores: Scores, pairs: list[dict],
                   folder: Path, *, progress=print) -> dict:
    """The student's training-free scores of each selected pair set (the implicit-reward
    margin, CHES: see :func:`deltatheory.llm.studies.ladder.pair_predictors`), cached in
    ``predictors.json`` under a key of everything they depend on."""
    from ..generate import model_identity
    from ..models import load

    sets = {p["pair"]: pair_rows(items, scores, p["chosen"], p["rejected"], config.seed, "dpo")
            for p in pairs}
    key = hashlib.sha256(json.dumps(
        [ladder._PREDICTORS_VERSION, model_identity(config.student), config.dtype,
         {n: [[q["id"], q["chosen"], q["rejected"]] for q in s] for n, s in sets.items()}],
        sort_keys=True).encode()).hexdigest()[:16]
    path = folder / "predictors.json"
    cached = json.loads(path.read_text()) if path.exists() else {}
    if cached.get("key") != key:
        model, tok = load(config.student, dtype=config.dtype)
        progress(f"the student's scores of {sum(map(len, sets.values()))} pairs "
                 f"({len(sets)} pair sets)")
        table = ladder.answer_table(model, tok, list(sets.values()), progress=True)
        cached = {"key": key, "pairs": {
            n: ladder.pair_predictors(model, tok, s, table=table) for n, s in sets.items()}}
        write_json(path, cached)
        del model
    return cached["pairs"]


# --------------------------------------------------------------------------- pre-registration
def config_hash(config: SeparationConfig) -> str:
    """Hash (16 hex digits) of everything in the configuration that a number depends on."""
    d = to_dict(config)
    d.pop("preregistration", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


HYPOTHESES = [
    "H1 (what the theory adds): the partial rank correlation of κ with the seed-averaged DPO "
    "gain, given the accuracy gap, is above 0 (its 95 % CI over pairs, seeds and items excludes "
    "0). If it is not, κ adds nothing measurable over the gap on these pairs.",
    "H2 (signs where the predictors disagree): on the pairs marked `disagree`, the sign of κ "
    "matches the sign of the observed DPO gain more often than the gap's (always ≥ 0 here: it "
    "predicts a gain) does.",
    "H3 (the paper's §5 contrast): on pairs whose chosen teacher is less accurate than the "
    "student, SFT on all of the chosen teacher's answers lowers the student's accuracy while DPO "
    "on the same teachers' disagreements raises it (SFT-all − DPO < 0).",
]


def _registration(config: SeparationConfig, pairs: list[dict], noise: dict) -> dict:
    keep = ("pair", "chosen", "rejected", "families", "n_pairs", "chosen_accuracy",
            "rejected_accuracy", "accuracy_gap", "chosen_minus_student",
            "chosen_accuracy_on_disagreements", "agreement_with_student", "rank_share_kappa",
            "rank_share_gap", "opposite_signs", "disagree", "reversed_control",
            "implicit_margin", "ches")
    out = []
    for p in pairs:
        b = p["bridge"]
        out.append({**{k: p[k] for k in keep if k in p},
                    "kappa": b["kappa"], "kappa_ci95": b["kappa_ci95"],
                    "p_kappa_positive": b["p_improve"], "predicted_sign": int(np.sign(b["kappa"])),
                    "signal": b["signal"], "noise": b["noise"],
                    "predicted_gain": b["predicted_gain"],
                    "predicted_gain_ci95": b["predicted_gain_ci95"]})
    tcfg, seeds = _setting(config, noise["chosen_setting"])
    return {"study": config.name, "code_version": CODE_VERSION,
            "config_hash": config_hash(config),
            "setting": {"train": dataclasses.asdict(tcfg), "seeds": seeds,
                        "noise_study": noise},
            "rule": select.__doc__.strip(),
            "select": dataclasses.asdict(config.select),
            "hypotheses": HYPOTHESES,
            "pairs": out, "reversed": [p["pair"] for p in pairs if p["reversed_control"]]}


def _canonical(x):
    """Numbers rounded to 5 significant digits: a recomputation on another machine (float32
    forward passes of the student for the implicit margin and CHES) compares equal, a changed
    prediction does not."""
    if isinstance(x, float):
        return float(f"{x:.5g}")
    if isinstance(x, dict):
        return {k: _canonical(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_canonical(v) for v in x]
    return x


def preregister(reg: dict, path: Path, *, arms_exist: bool = False) -> bool:
    """Write the pre-registration ``reg`` to ``path`` when there is none (returns True); else
    check that the file holds the same configuration hash, setting, pairs (with every
    prediction) and reversed pairs, and raise a one-line error naming the first difference."""
    if not path.exists():
        if arms_exist:  # never register after results: the file is missing, not new
            raise DeltaTheoryError(f"no pre-registration at {path}, but this run folder has "
                                   "finished study arms: restore the committed file (paths are "
                                   "relative to the working directory)")
        write_json(path, {**reg, "written": time.strftime("%Y-%m-%d %H:%M:%S %Z")})
        return True
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DeltaTheoryError(f"pre-registration {path} cannot be read ({e})") from None
    if not isinstance(old, dict):
        raise DeltaTheoryError(f"pre-registration {path} is not a JSON object")
    # compared as written: strict JSON (a non-finite number is null plus a reason)
    new = json.loads(dumps(reg))
    for key in PREREGISTERED:
        if _canonical(old.get(key)) != _canonical(new.get(key)):
            if key == "pairs" and isinstance(old.get(key), list):
                a = [p.get("pair") for p in old[key]]
                b = [p["pair"] for p in reg[key]]
                if a != b:
                    raise DeltaTheoryError(f"pre-registration {path} lists the pairs {a}, but "
                                           f"the rule now selects {b}: not the pre-registered "
                                           "study")
                first = next(i for i, (x, y) in enumerate(zip(old[key], new[key], strict=True))
                             if _canonical(x) != _canonical(y))
                raise DeltaTheoryError(f"pre-registration {path}: the predictions for "
                                       f"{b[first]} differ from what the labels give now")
            raise DeltaTheoryError(f"pre-registration {path} does not match this study's "
                                   f"{key}: run with the configuration and labels it was "
                                   "written from, or another --out and file")
    return False


# --------------------------------------------------------------------------- the arms
def arms(config: SeparationConfig, pairs: list[dict], seeds: list[int]) -> list[dict]:
    """Every study arm, seed-major: each pair's DPO at the first seed, then SFT on all chosen
    answers, then the next seed, then SFT on the disagreements' chosen side, then the reversed
    controls, then the remaining seeds (so a study stopped part-way is a complete smaller one,
    controls included)."""
    def arm(p, kind, seed):
        suffix = {"dpo": f"dpo.s{seed}", "sft-all": "sft-all", "sft": "sft",
                  "reversed": "reversed"}[kind]
        return {"name": f"{p['pair']}.{suffix}", "pair": p["pair"], "chosen": p["chosen"],
                "rejected": p["rejected"], "kind": kind, "seed": seed}

    s0 = seeds[0]
    order = [("dpo", s0), ("sft-all", s0)]
    if len(seeds) > 1:
        order.append(("dpo", seeds[1]))
    order.append(("sft", s0))
    out = [arm(p, kind, s) for kind, s in order for p in pairs]
    out += [arm(p, "reversed", s0) for p in pairs if p["reversed_control"]]
    out += [arm(p, "dpo", s) for s in seeds[2:] for p in pairs]
    return out


def study_arm(arm: dict, folder: Path, *, config: SeparationConfig, tcfg: TrainConfig,
              items: Items, scores: Scores, progress=print) -> dict:
    rows = pair_rows(items, scores, arm["chosen"], arm["rejected"], config.seed, arm["kind"])
    method = "sft" if arm["kind"] in ("sft", "sft-all") else tcfg.method
    progress(f"arm {arm['name']}: {method} on {len(rows)} rows, {tcfg.max_steps} steps")
    tc = merge(tcfg, {"seed": arm["seed"]})
    return {"arm": arm["name"], **{k: arm[k] for k in ("pair", "chosen", "rejected", "kind",
                                                       "seed")},
            **train_one(config, tc, rows, method, folder=folder, items=items, scores=scores,
                        split="test")}


# --------------------------------------------------------------------------- the answers
#: the training-free predictors set against the observed DPO gain
PREDICTORS = {
    "kappa": "κ (the bridge)",
    "signal": "signal term alone",
    "accuracy_gap": "accuracy gap (chosen − rejected)",
    "chosen_accuracy": "chosen teacher's accuracy",
    "chosen_accuracy_on_disagreements": "chosen's accuracy on the disagreement items",
    "implicit_margin": "implicit-reward margin (student, length-normalised)",
    "ches": "CHES (student hidden states)",
}


def _value(p: dict, key: str):
    return p["kappa"] if key == "kappa" else p.get(key)


def aggregate(config: SeparationConfig, before: np.ndarray, reg: dict,
              results: list[dict]) -> list[dict]:
    """Per pre-registered pair: the seed-averaged DPO gain with its CIs and standard error, and
    the SFT and reversed arms' gains (the pair records of the summary)."""
    from deltatheory.stats import gain_se, paired_diff_ci, seeds_items_ci

    n_items = len(before)
    out = []
    for p in reg["pairs"]:
        info = dict(p)
        mine = [a for a in results if a["pair"] == p["pair"]]
        dpo = [a for a in mine if a["kind"] == "dpo"]
        if dpo:
            runs = [a["correct_after"] for a in dpo]
            info["dpo_seeds"] = [a["seed"] for a in dpo]
            info["dpo_gain_per_seed"] = [a["observed_gain"] for a in dpo]
            info["dpo_gain"] = float(np.mean(runs) - before.mean())
            info["dpo_gain_ci95"] = seeds_items_ci(before, runs)
            info["dpo_gain_items_ci95"] = paired_diff_ci(before, np.mean(runs, axis=0),
                                                         config.bootstrap, config.seed)
            se = gain_se(info["dpo_gain_per_seed"], info["dpo_gain_items_ci95"], n_items)
            info["dpo_gain_se"], info["dpo_gain_df"] = se if se else (None, None)
        for a in mine:
            if a["kind"] != "dpo":
                key = a["kind"].replace("-", "_")
                info[f"{key}_gain"] = a["observed_gain"]
                info[f"{key}_gain_ci95"] = a["observed_gain_ci95"]
                if key == "sft_all" and dpo:
                    # paired over items: the student's own accuracy cancels in SFT-all − DPO
                    d = np.asarray(a["correct_after"], float) - np.mean(runs, axis=0)
                    info["sft_all_minus_dpo_items_var"] = float(d.var(ddof=1) / len(d))
        out.append(info)
    return out


def kappa_on_validation(config: SeparationConfig, items: Items, scores: Scores,
                        reg: dict) -> dict:
    """A check of the registered κ (estimated on the test items): each pair's κ and its CI
    from the validation items instead, a split the selection never saw. Pairs the bridge
    cannot place there get the reason."""
    from deltatheory.bridge import estimate

    out = {}
    for p in reg["pairs"]:
        y = np.stack([items.truth["validation"], scores.label["student"]["validation"],
                      scores.label[p["chosen"]]["validation"],
                      scores.label[p["rejected"]]["validation"]], 1)
        try:
            b = estimate(y, bootstrap=config.bootstrap, seed=config.seed)
            out[p["pair"]] = {"kappa": b.kappa, "kappa_ci95": b.kappa_ci95}
        except DeltaTheoryError as e:
            out[p["pair"]] = {"kappa": None, "reason": str(e)}
    return out


def pair_group(families: list[str], student_family: str) -> str:
    """A pair's transfer group: ``other_family`` when a teacher is of another model family,
    else ``constructed`` when a teacher is constructed, else ``own`` (both of the student's).

    >>> pair_group(["constructed", "gemma3-270m"], "smollm2-135m-instruct")
    'other_family'
    >>> pair_group(["smollm2-135m-instruct", "constructed"], "smollm2-135m-instruct")
    'constructed'
    """
    if any(f not in (student_family, "constructed") for f in families):
        return "other_family"
    return "constructed" if "constructed" in families else "own"


def _fit_transfer(train: list[dict], test: list[dict], key: str) -> dict | None:
    """A least-squares line gain = a + b·x fitted on ``train`` pairs, judged on ``test``: its
    mean absolute error there, beside the error of predicting every test gain by the train
    pairs' mean gain (a rule with no predictor)."""
    xs = [(_value(p, key), p["dpo_gain"]) for p in train if _value(p, key) is not None]
    ys = [(_value(p, key), p["dpo_gain"]) for p in test if _value(p, key) is not None]
    if len(xs) < 3 or not ys:
        return None
    x, y = np.array(xs).T
    b, a = np.polyfit(x, y, 1)
    xt, yt = np.array(ys).T
    pred = a + b * xt
    return {"n_fit": len(xs), "n_test": len(ys), "slope": float(b), "intercept": float(a),
            "mae": float(np.mean(np.abs(pred - yt))),
            "mae_mean_rule": float(np.mean(np.abs(np.mean(y) - yt))),
            "bias": float(np.mean(pred - yt))}


def analyse(summary: dict) -> dict:
    """The study's answers, from the pair records alone (a shipped summary can be redone without
    its run folder): the seed variance pooled over pairs and its heterogeneity, the one-seed
    arms' CIs widened by it, each predictor's Spearman ρ with the gain, the partial rank
    correlations, the signs on the disagreeing pairs, the §5 contrast and the family transfer.
    Updates ``summary``."""
    from deltatheory.stats import (
        ci_variance,
        heterogeneity_of_seed_variance,
        one_seed_ci,
        paired_sign_test,
        partial_spearman_ci,
        pooled_seed_variance,
        sign_agreement,
        spearman_ci,
        welch_ci,
    )

    config, pairs = summary["config"], summary["pairs"]
    n_items, boot, seed = config["items"]["test"], config["bootstrap"], config["seed"]
    seeded = [p for p in pairs if len(p.get("dpo_gain_per_seed", [])) > 1]
    per_seed = [p["dpo_gain_per_seed"] for p in seeded]
    pooled = pooled_seed_variance(per_seed)
    summary["seed_variance"] = None if pooled is None else {
        "variance": pooled[0], "sd": float(np.sqrt(pooled[0])), "df": pooled[1],
        "heterogeneity": heterogeneity_of_seed_variance(per_seed),
        "pairs": [p["pair"] for p in seeded],  # the order of heterogeneity's sd_by_pair
        "about": "between training seeds of one DPO arm, pooled over the pairs; borrowed for "
                 "the one-seed arms (SFT and the reversed control)"}
    for p in pairs:
        for key in ("sft_all", "sft", "reversed"):
            if pooled is not None and f"{key}_gain" in p:
                p[f"{key}_gain_seed_ci95"] = one_seed_ci(p[f"{key}_gain"], p[f"{key}_gain_ci95"],
                                                         pooled[0], pooled[1], n_items)
        if "sft_all_gain" in p and p.get("dpo_gain_se") is not None and pooled is not None:
            p["sft_all_minus_dpo"] = p["sft_all_gain"] - p["dpo_gain"]
            # as registered: the two gains' item variances added as if independent (too wide)
            p["sft_all_minus_dpo_ci95_registered"] = welch_ci(p["sft_all_minus_dpo"], [
                (ci_variance(p["sft_all_gain_ci95"]), n_items - 1), (pooled[0], pooled[1]),
                (p["dpo_gain_se"] ** 2, p["dpo_gain_df"])])
            # amended before any result: items paired (the per-item variance of SFT-all's
            # correctness minus the DPO seeds' mean, which the pair record must carry: no
            # unpaired stand-in), plus SFT-all's seed (the pooled variance) and the DPO mean's
            if "sft_all_minus_dpo_items_var" in p:
                k = len(p["dpo_gain_per_seed"])
                p["sft_all_minus_dpo_ci95"] = welch_ci(p["sft_all_minus_dpo"], [
                    (p["sft_all_minus_dpo_items_var"], n_items - 1), (pooled[0], pooled[1]),
                    (float(np.var(p["dpo_gain_per_seed"], ddof=1)) / k, k - 1)])
    scored = [p for p in pairs if p.get("dpo_gain_se") is not None]
    # the precision reached: half-widths of the intervals the pair table shows
    half = [(p["dpo_gain_ci95"][1] - p["dpo_gain_ci95"][0]) / 2 for p in scored
            if p.get("dpo_gain_ci95")]
    summary["median_half_width"] = float(np.median(half)) if half else None
    # H3, the paper's §5 contrast: SFT on all of a weaker chosen teacher's answers against DPO
    weaker = [p for p in scored if p["chosen_minus_student"] < 0
              and p.get("sft_all_minus_dpo_ci95") and p.get("sft_all_gain_seed_ci95")]
    below = [p["sft_all_minus_dpo_ci95"][1] < 0 for p in weaker]
    hurts = [p["sft_all_gain_seed_ci95"][1] < 0 for p in weaker]
    helps = [bool(p.get("dpo_gain_ci95")) and p["dpo_gain_ci95"][0] > 0 for p in weaker]
    runs: dict[str, list[str]] = {}
    for p in weaker:  # SFT-all trains on the chosen teacher alone: one run per chosen teacher
        runs.setdefault(p["chosen"], []).append(p["pair"])
    summary["sft_all_contrast"] = {
        "pairs": [p["pair"] for p in weaker], "n": len(weaker),
        "sft_all_below_dpo": sum(below),
        "sft_all_above_dpo": sum(p["sft_all_minus_dpo_ci95"][0] > 0 for p in weaker),
        "sft_all_hurts": sum(hurts), "dpo_helps": sum(helps),
        "all_three": sum(a and b and c for a, b, c in zip(below, hurts, helps, strict=True)),
        "median_sft_all_minus_dpo": (float(np.median([p["sft_all_minus_dpo"] for p in weaker]))
                                     if weaker else None),
        "sft_all_runs": runs, "n_chosen": len(runs),
        "sft_all_hurts_chosen": sum(all(h for p, h in zip(weaker, hurts, strict=True)
                                        if p["chosen"] == c) for c in runs),
        "about": "pairs whose chosen teacher is less accurate than the student; counts of CIs "
                 "(seeds and items) clear of zero; all_three: SFT-all below DPO, SFT-all hurts "
                 "and DPO helps on the same pair (H3 per pair). Pairs that share a chosen "
                 "teacher share one SFT-all training run (sft_all_runs), so the per-pair counts "
                 "are not independent: n_chosen counts the distinct runs"}
    y = [p["dpo_gain"] for p in scored]
    se = [p["dpo_gain_se"] for p in scored]
    df = [p["dpo_gain_df"] for p in scored]
    spearman = {}
    for key in PREDICTORS:
        pts = [(i, _value(p, key)) for i, p in enumerate(scored) if _value(p, key) is not None]
        idx = [i for i, _ in pts]
        x = [v for _, v in pts]
        yy, ss, dd = ([y[i] for i in idx], [se[i] for i in idx], [df[i] for i in idx])
        noisy = spearman_ci(x, yy, boot, seed, y_se=ss, y_df=dd)
        plain = spearman_ci(x, yy, boot, seed)
        spearman[key] = {**noisy.to_dict(), "ci95_pairs_only": plain.ci95}
    summary["spearman"] = spearman
    k = [p["kappa"] for p in scored]
    g = [p["accuracy_gap"] for p in scored]
    summary["partial"] = {
        "kappa_given_gap": partial_spearman_ci(k, g, y, boot, seed, y_se=se, y_df=df).to_dict(),
        "gap_given_kappa": partial_spearman_ci(g, k, y, boot, seed, y_se=se, y_df=df).to_dict(),
        "about": "rank partial correlation with the DPO gain; CI over pairs, each pair's gain "
                 "redrawn within its seeds-and-items uncertainty"}
    dis = [p for p in scored if p.get("disagree")]
    summary["signs_where_they_disagree"] = {
        key: sign_agreement([_value(p, key) for p in dis], [p["dpo_gain"] for p in dis],
                            [p["dpo_gain_ci95"] for p in dis])
        for key in ("kappa", "accuracy_gap")}
    opposite = [p for p in dis if p.get("opposite_signs")]
    summary["signs_where_they_disagree_opposite"] = {
        key: sign_agreement([_value(p, key) for p in opposite],
                            [p["dpo_gain"] for p in opposite],
                            [p["dpo_gain_ci95"] for p in opposite])
        for key in ("kappa", "accuracy_gap")}

    def right(ps, key):
        return [np.sign(_value(p, key)) == np.sign(p["dpo_gain"]) != 0 for p in ps]

    summary["sign_test"] = {
        name: paired_sign_test(right(ps, "kappa"), right(ps, "accuracy_gap"))
        for name, ps in (("disagree", dis), ("opposite", opposite))}
    summary["sign_test"]["about"] = (
        "exact McNemar test of κ against the gap on the same pairs: a_only, pairs where only κ "
        "had the gain's sign right; b_only, only the gap")
    summary["signs_all_pairs"] = {
        key: sign_agreement([_value(p, key) for p in scored], [p["dpo_gain"] for p in scored],
                            [p["dpo_gain_ci95"] for p in scored])
        for key in ("kappa", "accuracy_gap")}
    own = ((summary.get("accuracy") or {}).get("student", {}).get("family")
           or config["student"].split("@")[0])
    for p in summary["pairs"]:
        p["group"] = pair_group(p["families"], own)
    groups = {g: [p for p in scored if p["group"] == g]
              for g in ("own", "other_family", "constructed")}
    summary["transfer"] = {
        "groups": {"own": "both teachers of the student's family (its pruned copies and itself)",
                   "other_family": "a teacher of another model family",
                   "constructed": "a constructed teacher, and no other family"},
        "sizes": {g: len(v) for g, v in groups.items()},
        **{f"{src}_to_{dst}": {key: _fit_transfer(groups[src], groups[dst], key)
                               for key in ("kappa", "accuracy_gap")}
           for src, dst in (("other_family", "constructed"), ("constructed", "other_family"),
                            ("own", "other_family"), ("other_family", "own"))}}
    summary["spearman_ci"] = ("ci95: percentile bootstrap over pairs that also redraws each "
                              "pair's DPO gain from gain + se·t_df; ci95_pairs_only: over pairs, "
                              "gains taken as exact")
    return summary


# --------------------------------------------------------------------------- the run
def run(config: SeparationConfig, out: str | Path, *, progress=print,
        report_only: bool = False, max_seeds: int | None = None) -> dict:
    """Run the study into ``out`` (resumable per arm). Returns the summary, or, when this call
    wrote the pre-registration outside ``--quick``, ``{"preregistered": path, …}`` without
    training: commit the file, then run again.

    ``report_only``: train nothing; summarise the arms finished so far (the summary says how
    many of how many: ``complete``), after the same checks of the run folder and the
    pre-registration.

    ``max_seeds``: plan (and report) only the first ``max_seeds`` DPO seeds of the registered
    setting — the protocol's stop after the fourth seed, decided by time alone; the
    pre-registration is unchanged and the summary records both seed lists."""
    if max_seeds is not None and (isinstance(max_seeds, bool) or not isinstance(max_seeds, int)
                                  or max_seeds < 2):
        raise DeltaTheoryError(f"--seeds {max_seeds!r} must be a whole number of at least 2 "
                               "(a pair's seed spread needs two seeds)")
    if report_only and not (Path(out) / "config.json").exists():
        raise DeltaTheoryError(f"{out} is not a run folder of this study: --report summarises "
                               "an existing run; run the study first")
    specs = [config.student, *config.teachers]
    items = Items.of(config)
    ladder.check_loadable(specs, items.rows["test"][:2])
    the_run = Run.open(out, to_dict(config), models=specs, code_version=CODE_VERSION)
    folder = the_run.folder
    scores = score(config, items, folder, progress=progress)
    dropped: list[dict] = []
    cands = candidates(config, items, scores, dropped)
    write_json(folder / "candidates.json", {"accuracy": scores.accuracy, "candidates": cands,
                                            "dropped": dropped})
    noise = noise_study(config, items, scores, cands, the_run, progress=progress,
                        train=not report_only)
    tcfg, seeds = _setting(config, noise["chosen_setting"])
    pairs = select(config, cands)
    got = student_scores(config, items, scores, pairs, folder, progress=progress)
    for p in pairs:
        p.update({k: v for k, v in got[p["pair"]].items() if k in ("implicit_margin", "ches")})
    reg = _registration(config, pairs, noise)
    path = (Path(config.preregistration) if config.preregistration and not config.quick_mode
            else folder / "preregistration.json")
    if report_only and not path.exists():
        raise DeltaTheoryError(f"no pre-registration at {path}: nothing to report on yet")
    done = any(folder.glob("arms/*.dpo.*/metrics.json"))
    if preregister(reg, path, arms_exist=done) and not config.quick_mode:
        progress(f"pre-registration written to {path}: commit it, then run again to train")
        return {"preregistered": str(path), "pairs": [p["pair"] for p in pairs],
                "setting": reg["setting"]["train"], "seeds": seeds}
    if max_seeds is not None and max_seeds > len(seeds):
        raise DeltaTheoryError(f"--seeds {max_seeds} is more than the registered setting's "
                               f"{len(seeds)} DPO seeds ({', '.join(map(str, seeds))})")
    seeds_run = seeds[:max_seeds] if max_seeds is not None else list(seeds)
    plan = arms(config, pairs, seeds_run)
    if report_only:
        results = [json.loads(f.read_text()) for a in plan
                   if (f := the_run.arm_folder(a["name"]) / "metrics.json").exists()]
    else:
        work = functools.partial(study_arm, config=config, tcfg=tcfg, items=items,
                                 scores=scores, progress=progress)
        results = the_run.each(plan, lambda a: a["name"], work, progress=progress)
    before = scores.correct("student", items)
    summary = {"config": to_dict(config), "task": config.task, "accuracy": scores.accuracy,
               "preregistration": str(path), "noise": noise,
               "complete": len(results) == len(plan),
               "arms_finished": len(results), "arms_planned": len(plan),
               "dpo_seeds_registered": list(seeds), "dpo_seeds_run": seeds_run,
               "pairs": aggregate(config, before, reg, results),
               "kappa_validation": kappa_on_validation(config, items, scores, reg),
               "arms": [{k: v for k, v in a.items() if k != "correct_after"} for a in results],
               "predictors": PREDICTORS, "hypotheses": HYPOTHESES,
               "scoring_seconds": scores.seconds, "code_version": CODE_VERSION}
    analyse(summary)
    write_summary(summary, folder)
    return summary


def write_summary(summary: dict, folder: Path) -> None:
    """``separation.json``, ``separation.md`` and ``separation.png`` (figure 9) in ``folder``
    (each written whole)."""
    from deltatheory.figures import fig9_separation_study, render

    write_json(folder / "separation.json", summary)
    with atomic_path(folder / "separation.md") as tmp:
        tmp.write_text(markdown(summary))
    render(fig9_separation_study.plot, summary, folder / "separation.png")


def resummarise(path: str | Path) -> dict:
    """Redo the answers of a finished study's ``separation.json`` (no retraining)."""
    path = Path(path)
    summary = analyse(json.loads(path.read_text()))
    write_summary(summary, path.parent)
    return summary


# --------------------------------------------------------------------------- Markdown
def _share_text(d: dict, tag: str = "") -> str:
    ci = d.get(f"share{tag}_ci95")
    if not ci:
        return ""
    return f" ({100 * d[f'share{tag}']:.0f} % [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}])"


def _h2_lines(s: dict) -> list[str]:
    """H2: the sign counts where κ and the gap disagree (Wilson CIs), on the opposite-sign
    subset, and the exact McNemar test of κ against the gap on the same pairs."""
    lines = []
    for title, key in (("Where κ and the gap disagree", "signs_where_they_disagree"),
                       ("Where they predict opposite signs (κ < 0 < gap)",
                        "signs_where_they_disagree_opposite")):
        for pred, d in (s.get(key) or {}).items():
            if d["n"]:
                lines.append(f"- {title}, {PREDICTORS[pred]} has the gain's sign right on "
                             f"{d['right']} of {d['n']} pairs{_share_text(d)}; "
                             f"{d['right_resolved']} of {d['n_resolved']} whose gain CI "
                             f"excludes 0{_share_text(d, '_resolved')}.")
    for name, label in (("disagree", "the disagreeing pairs"),
                        ("opposite", "the opposite-sign pairs")):
        t = (s.get("sign_test") or {}).get(name)
        if t and t["n"]:
            p = "no pair where only one is right" if t["p_exact"] is None else (
                f"exact McNemar p = {t['p_exact']:.2f}")
            lines.append(f"- κ against the gap on {label} ({t['n']}): only κ right on "
                         f"{t['a_only']}, only the gap on {t['b_only']} ({p}).")
    return lines


def _h3_lines(s: dict) -> list[str]:
    """H3 (§5): the weaker-chosen pairs, each with both SFT-all − DPO intervals (amended and
    as registered) and the pairs it shares an SFT-all run with; the counts per pair and per
    distinct run."""
    c = s.get("sft_all_contrast")
    if not c or not c["n"]:
        return []
    by = {p["pair"]: p for p in s["pairs"]}
    lines = ["", f"§5 contrast (H3), the {c['n']} pairs whose chosen teacher is less accurate "
             "than the student (points; SFT-all one seed, its CI widened by the pooled seed "
             "variance):", "",
             "| pair | chosen − student | DPO gain [CI] | SFT all chosen [CI] | SFT-all − DPO "
             "[CI, amended] | [CI as registered] | same SFT-all run as |",
             "|---|---|---|---|---|---|---|"]
    runs = c.get("sft_all_runs") or {}
    for name in c["pairs"]:
        p = by[name]
        shared = [q for q in runs.get(p["chosen"], []) if q != name]
        lines.append(
            f"| {name} | {_pts(p['chosen_minus_student'])} | "
            f"{_pts(p.get('dpo_gain'), p.get('dpo_gain_ci95'))} | "
            f"{_pts(p.get('sft_all_gain'), p.get('sft_all_gain_seed_ci95'))} | "
            f"{_pts(p.get('sft_all_minus_dpo'), p.get('sft_all_minus_dpo_ci95'))} | "
            f"{ladder._ci(p.get('sft_all_minus_dpo_ci95_registered'))} | "
            f"{', '.join(shared) or '—'} |")
    lines += ["", f"- H3 per pair (CIs clear of 0): SFT-all below DPO on "
              f"{c['sft_all_below_dpo']} of {c['n']}, above on {c['sft_all_above_dpo']}; "
              f"SFT-all hurts on {c['sft_all_hurts']}, DPO helps on {c['dpo_helps']}; all three "
              f"on {c.get('all_three', '—')}; median SFT-all − DPO "
              f"{_pts(c['median_sft_all_minus_dpo'])} points."]
    if "n_chosen" in c:
        lines.append(f"- These {c['n']} pairs have {c['n_chosen']} distinct chosen teachers, so "
                     f"{c['n_chosen']} distinct SFT-all runs (SFT-all trains on the chosen "
                     f"teacher alone); SFT-all hurts for {c['sft_all_hurts_chosen']} of them.")
    return lines


def _transfer_lines(s: dict) -> list[str]:
    """A κ → gain (and gap → gain) line fitted on one group of pairs, judged on another."""
    t = s.get("transfer")
    if not t:
        return []
    sizes = ", ".join(f"{g} {n}" for g, n in t["sizes"].items())
    lines = ["", f"Transfer between groups of pairs ({sizes}): a line gain = a + b·x fitted on "
             "one group, its mean absolute error on the other, beside predicting every gain by "
             "the fitted group's mean gain (points):", "",
             "| fitted on → judged on | x | pairs (fit / test) | slope | MAE | MAE, mean rule |",
             "|---|---|---|---|---|---|"]
    for key, fits in t.items():
        if key in ("groups", "sizes"):
            continue
        src, _, dst = key.partition("_to_")
        for x, f in fits.items():
            if f is None:
                lines.append(f"| {src} → {dst} | {PREDICTORS[x]} | — | too few pairs to fit "
                             "| — | — |")
                continue
            lines.append(f"| {src} → {dst} | {PREDICTORS[x]} | {f['n_fit']} / {f['n_test']} | "
                         f"{f['slope']:+.3f} | {100 * f['mae']:.1f} | "
                         f"{100 * f['mae_mean_rule']:.1f} |")
    return lines


_pts, _rho = ladder._pts, ladder._rho  # the ladder's number formats


def markdown(s: dict) -> str:
    """The study's results (Markdown)."""
    lines = [] if s.get("complete", True) else [
        f"**Partial: {s['arms_finished']} of {s['arms_planned']} arms finished.** Pairs with "
        "fewer than two DPO seeds have no interval and are left out of the correlations.", ""]
    reg, ran = s.get("dpo_seeds_registered"), s.get("dpo_seeds_run")
    if reg and ran and len(ran) < len(reg):
        lines += [f"DPO seeds: the first {len(ran)} of the {len(reg)} registered "
                  f"({', '.join(map(str, ran))}; stopped by time, as the protocol allows).", ""]
    lines += ["Held-out accuracy (test items) before training:", "",
             "| teacher | family | accuracy [95 % CI] |", "|---|---|---|"]
    for m, a in s["accuracy"].items():
        ci = a.get("test_ci95")
        lines.append(f"| {m} | {a['family']} | {a['test']:.3f}"
                     + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") + " |")
    lines += ["", "Per pre-registered pair (gains in accuracy points on the test items; the DPO "
              "gain is the mean over seeds, its CI over seeds and items; SFT arms one seed, "
              "their CI over items widened by the pooled seed variance):", "",
              "| pair | disagree | κ [95 % CI] | gap | DPO gain [CI] | per seed | SFT all chosen "
              "| SFT chosen side | SFT-all − DPO | reversed |", "|---|---|---|---|---|---|---|---|"
              "---|---|"]
    for p in s["pairs"]:
        per = " / ".join(_pts(g) for g in p.get("dpo_gain_per_seed", [])) or "—"
        dis = "opposite" if p.get("opposite_signs") else ("ranks" if p.get("disagree") else "")
        lines.append(
            f"| {p['pair']} | {dis} | "
            f"{p['kappa']:+.3f} [{p['kappa_ci95'][0]:+.3f}, {p['kappa_ci95'][1]:+.3f}] | "
            f"{_pts(p['accuracy_gap'])} | {_pts(p.get('dpo_gain'), p.get('dpo_gain_ci95'))} | "
            f"{per} | {_pts(p.get('sft_all_gain'), p.get('sft_all_gain_seed_ci95'))} | "
            f"{_pts(p.get('sft_gain'), p.get('sft_gain_seed_ci95'))} | "
            f"{_pts(p.get('sft_all_minus_dpo'), p.get('sft_all_minus_dpo_ci95'))} | "
            f"{_pts(p.get('reversed_gain'), p.get('reversed_gain_seed_ci95'))} |")
    kv = s.get("kappa_validation")
    if kv:
        placed = [(p["pair"], p["kappa"], kv[p["pair"]]) for p in s["pairs"] if p["pair"] in kv]
        same = sum(1 for _, k, v in placed if v["kappa"] is not None
                   and np.sign(v["kappa"]) == np.sign(k))
        inside = sum(1 for _, k, v in placed if v["kappa"] is not None
                     and v["kappa_ci95"][0] <= k <= v["kappa_ci95"][1])
        lines += ["", f"κ re-estimated on the {s['config']['items']['validation']} validation "
                  f"items (a split the selection never saw): same sign as the registered κ on "
                  f"{same} of {len(placed)} pairs; the registered κ inside the validation CI on "
                  f"{inside}."]
    if s.get("spearman"):
        lines += ["", "Spearman ρ of each predictor with the seed-averaged DPO gain (95 % CI over "
                  "pairs, seeds and items; and over pairs alone):", "",
                  "| predictor | ρ [CI] | [pairs only] |", "|---|---|---|"]
        for key, label in s["predictors"].items():
            r = s["spearman"][key]
            lines.append(f"| {label} | {_rho(r)} | {ladder._ci_rho(r.get('ci95_pairs_only'))} |")
        pr = s["partial"]
        lines += ["", f"Partial rank correlation with the gain: κ given the gap "
                  f"{_rho(pr['kappa_given_gap'])}; the gap given κ {_rho(pr['gap_given_kappa'])}.",
                  ""]
        if s.get("median_half_width") is not None:
            lines.append(f"- Median 95 % half-width of a pair's DPO gain (seeds and items, as in "
                         f"the table): {100 * s['median_half_width']:.1f} points.")
        sv = s.get("seed_variance")
        if sv:
            h = sv["heterogeneity"]
            tests = ", ".join(f"{name} p = {h[key]:.2f}" for name, key in
                              (("Levene", "levene_p"), ("Bartlett", "bartlett_p"))
                              if h.get(key) is not None)
            lines.append(f"- Seed sd of a DPO gain, pooled over the {h['k']} pairs with two or "
                         f"more seeds: {100 * sv['sd']:.1f} points ({sv['df']} df); do the "
                         "pairs' seeds spread alike? "
                         + (tests or "untestable") + (f"; {h['why']}" if h.get("why") else "")
                         + ".")
        lines += _h2_lines(s) + _h3_lines(s) + _transfer_lines(s)
    return "\n".join(lines) + "\n"
