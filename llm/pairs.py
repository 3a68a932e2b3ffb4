"""Preference pairs: from two model columns or from a utility; filters, controls, diagnostics.

Pairs are saved as a Hugging Face dataset in the conversational format TRL expects: ``prompt``
(the chat messages, so multi-turn histories work), ``chosen`` and ``rejected`` (one assistant
message each), plus ``id`` and, where known, ``chosen_utility`` / ``rejected_utility``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from deltatheory.errors import BadData, DeltaTheoryError

__all__ = ["CONTROLS", "make_pairs", "synthetic_table", "diagnostics", "save_pairs",
           "saved_pairs_match", "load_pairs"]

CONTROLS = ("none", "reversed", "tied", "shuffled")


def _msg(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def make_pairs(table: list[dict], *, chosen: str | None = None, rejected: str | None = None,
               utility: Callable[[dict, str], float] | None = None,
               columns: list[str] | None = None, min_gap: float | None = None,
               drop_identical: bool = True, dolci: bool = False, control: str = "none",
               seed: int = 0, correct: Callable[[dict, str], float] | None = None) -> list[dict]:
    """Pairs from ``table`` rows (id, prompt, one column per model).

    Either ``chosen``/``rejected`` name two model columns (the paper: chosen = the bigger model),
    or ``utility`` scores the answers in ``columns`` and the best/worst become chosen/rejected.
    Filters: identical answers; a utility gap below ``min_gap`` (None, the default: no gap
    filter, so a pair whose chosen answer happens to score lower is kept, as delta learning
    pairs by the models, not by the answers; gaps are compared with a 1e-9 tolerance so that
    1.0 − 0.9 counts as 0.1); ``dolci`` (OLMo 3's "Dolci
    Think" rule for verifiable tasks: keep a pair only if chosen is correct and rejected wrong,
    by ``correct`` (1/0; the utility when not given)). Controls: ``reversed`` swaps the sides,
    ``tied`` uses the chosen answer on both sides, ``shuffled`` pairs each prompt with another
    prompt's rejected answer.
    """
    if control not in CONTROLS:
        raise DeltaTheoryError(f"control={control!r} is not one of {', '.join(CONTROLS)}")
    if not table:
        raise DeltaTheoryError("the response table is empty")
    if (chosen is None) != (rejected is None):
        raise DeltaTheoryError("give both chosen and rejected columns, or a utility")
    out = []
    for row in table:
        if chosen is not None:
            for col in (chosen, rejected):
                if col not in row:
                    have = ", ".join(k for k in row if k not in ("id", "prompt"))
                    raise DeltaTheoryError(f"column {col!r} is missing; the table has {have}")
            c_txt, r_txt = row[chosen], row[rejected]
            cu = utility(row, c_txt) if utility else None
            ru = utility(row, r_txt) if utility else None
        else:
            if utility is None or not columns:
                raise DeltaTheoryError("pairs from a utility need the columns to compare")
            missing = [c for c in columns if c not in row]
            if missing:
                raise DeltaTheoryError(f"column {missing[0]!r} is missing from the table")
            scored = sorted(((utility(row, row[c]), c) for c in columns), key=lambda t: t[0])
            (ru, rc), (cu, cc) = scored[0], scored[-1]
            c_txt, r_txt = row[cc], row[rc]
        if drop_identical and c_txt.strip() == r_txt.strip():
            continue
        if min_gap is not None and cu is not None and cu - ru < min_gap - 1e-9:
            continue
        if dolci:
            judge = correct or utility
            if judge is None or not (judge(row, c_txt) == 1.0 and judge(row, r_txt) == 0.0):
                continue
        rec = {"id": row["id"], "prompt": row["prompt"], "chosen_text": c_txt,
               "rejected_text": r_txt}
        if cu is not None:
            rec.update(chosen_utility=float(cu), rejected_utility=float(ru))
        out.append(rec)
    if not out:
        raise BadData("no pairs left after filtering (identical answers"
                               + (f", min_gap={min_gap:g}" if min_gap is not None else "")
                               + (", dolci" if dolci else "") + ")")
    return _apply_control(out, control, seed)


def synthetic_table(task, rows: list[dict], k_chosen: int, k_rejected: int,
                    seed: int, answers: dict | None = None) -> list[dict]:
    """``rows`` with two answers each (bold-sections only): ``synthetic_chosen`` with exactly
    ``k_chosen`` bold sections and ``synthetic_rejected`` with ``k_rejected``; the i-th row's
    answers depend only on (seed, i).

    Without ``answers`` they come from the short template (:func:`~.tasks.answer_with_sections`);
    with ``answers`` ({row id: a model's own answer}) they are that answer's sentences regrouped
    into k sections (:func:`~.sections.sectioned`), and rows whose answer is too short for either
    k are left out."""
    from .sections import sectioned
    from .tasks import answer_with_sections, count_bold_sections

    if not task.name.startswith("bold-sections"):
        raise DeltaTheoryError("synthetic pairs exist only for the bold-sections task")
    out = []
    for i, r in enumerate(rows):
        rc, rr = np.random.default_rng([seed, i, 0]), np.random.default_rng([seed, i, 1])
        if answers is None:
            c, j = answer_with_sections(r["topic"], k_chosen, rc), \
                answer_with_sections(r["topic"], k_rejected, rr)
        else:
            c, j = sectioned(answers[r["id"]], k_chosen, rc), \
                sectioned(answers[r["id"]], k_rejected, rr)
            if c is None or j is None or count_bold_sections(c) != k_chosen or \
                    count_bold_sections(j) != k_rejected:  # (a safeguard: never seen)
                continue
        out.append({**r, "synthetic_chosen": c, "synthetic_rejected": j})
    if not out:
        raise BadData(f"no answer is long enough for {max(k_chosen, k_rejected)} sections")
    return out


def _apply_control(pairs: list[dict], control: str, seed: int) -> list[dict]:
    res = []
    perm = np.random.default_rng(seed).permutation(len(pairs)) if control == "shuffled" else None
    for i, p in enumerate(pairs):
        c, r = p["chosen_text"], p["rejected_text"]
        cu, ru = p.get("chosen_utility"), p.get("rejected_utility")
        if control == "reversed":
            c, r, cu, ru = r, c, ru, cu
        elif control == "tied":
            r, ru = c, cu
        elif control == "shuffled":
            q = pairs[int(perm[i])]
            r, ru = q["rejected_text"], q.get("rejected_utility")
        rec = {"id": p["id"], "prompt": p["prompt"], "chosen": _msg(c), "rejected": _msg(r)}
        if cu is not None:
            rec.update(chosen_utility=cu, rejected_utility=ru)
        res.append(rec)
    return res


def diagnostics(pairs: list[dict], tokenizer=None) -> dict:
    """Pair count, identical rate, mean lengths (characters, and tokens with a tokenizer), the
    mean utility gap, a length-bias report (share of pairs whose chosen is longer) and the mean
    token overlap of chosen and rejected (Jaccard index of their token sets; words without a
    tokenizer)."""
    c = [p["chosen"][0]["content"] for p in pairs]
    r = [p["rejected"][0]["content"] for p in pairs]

    def toks(xs):
        if tokenizer is None:
            return [x.split() for x in xs]
        return [tokenizer(x, add_special_tokens=False)["input_ids"] for x in xs]

    tc, tr = toks(c), toks(r)
    lc = np.array([len(x) for x in (c if tokenizer is None else tc)])
    lr = np.array([len(x) for x in (r if tokenizer is None else tr)])
    overlap = [len(set(a) & set(b)) / max(1, len(set(a) | set(b))) for a, b in zip(tc, tr,
                                                                                 strict=True)]
    d = {"pairs": len(pairs), "identical_rate": float(np.mean([a == b for a, b in zip(c, r,
                                                                                     strict=True)])),
         "length_unit": "characters" if tokenizer is None else "tokens",
         "mean_chosen_length": float(lc.mean()), "mean_rejected_length": float(lr.mean()),
         "chosen_longer_rate": float(np.mean(lc > lr)),
         "empty_rate": float(np.mean([not a.strip() or not b.strip() for a, b in zip(c, r,
                                                                                  strict=True)])),
         "token_overlap": float(np.mean(overlap))}
    if "chosen_utility" in pairs[0]:
        gap = [p["chosen_utility"] - p["rejected_utility"] for p in pairs]
        d["mean_utility_gap"] = float(np.mean(gap))
    return d


def save_pairs(pairs: list[dict], folder: str | Path, *, key: str | None = None) -> Path:
    """Save as a Hugging Face dataset (written to a temporary folder, then renamed). ``key``
    (what determined the pairs: the code's version and the settings) is saved inside the same
    folder, in the same rename, for :func:`saved_pairs_match`."""
    import json

    from datasets import Dataset

    from deltatheory._io import atomic_dir

    with atomic_dir(folder) as tmp:
        Dataset.from_list(pairs).save_to_disk(str(tmp))
        if key is not None:
            (tmp / "deltatheory_key.json").write_text(json.dumps({"key": key}))
    return Path(folder)


def saved_pairs_match(folder: str | Path, key: str) -> bool:
    """Whether ``folder`` holds pairs saved by :func:`save_pairs` under this ``key`` (a folder
    saved without a key, or by other code or settings, does not match)."""
    import json

    p = Path(folder) / "deltatheory_key.json"
    try:
        return (Path(folder) / "dataset_info.json").exists() and \
            json.loads(p.read_text()).get("key") == key
    except (OSError, ValueError):
        return False


def load_pairs(folder: str | Path):
    from datasets import load_from_disk

    ds = load_from_disk(str(folder))
    missing = {"prompt", "chosen", "rejected"} - set(ds.column_names)
    if missing:
        raise DeltaTheoryError(f"pairs at {folder} lack column(s) {', '.join(sorted(missing))}")
    return ds
