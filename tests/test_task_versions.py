"""Choice tasks' versions (issue 22): the first versions are kept exactly as the shipped results
read them; the second has splits disjoint up to commutation."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from deltatheory.llm.tasks import get_task, split_overlap

from deltatheory.errors import DeltaTheoryError

ROOT = Path(__file__).resolve().parents[1]


def _question(row) -> tuple[int, int]:
    a, b = (int(x) for x in re.findall(r"\d+", row["prompt"][-1]["content"])[:2])
    return a, b


def test_the_first_version_is_the_one_the_shipped_ladder_read():
    with open(ROOT / "experiments" / "results" / "ladder" / "predictions.csv") as f:
        shipped = [(r["id"], int(r["truth"])) for r in csv.DictReader(f)]
    rows = get_task("addition-choice").prompts("test", len(shipped), 0)
    assert [(r["id"], r["truth"]) for r in rows] == shipped


def test_version_two_splits_share_no_question_up_to_commutation():
    t = get_task("addition-choice-v2")
    sizes = {"train": 1638, "test": 2047, "validation": 409}  # every question of every split
    rows = {s: t.prompts(s, n, 0) for s, n in sizes.items()}
    unordered = {s: [tuple(sorted(_question(r))) for r in rs] for s, rs in rows.items()}
    for s, qs in unordered.items():
        assert len(set(qs)) == len(qs), f"{s} repeats a question"
    assert not set(unordered["train"]) & set(unordered["test"])
    assert not set(unordered["train"]) & set(unordered["validation"])
    assert not set(unordered["test"]) & set(unordered["validation"])
    # both orders occur (the order is a coin flip), and the truth is balanced
    assert 0.4 < sum(a > b for a, b in map(_question, rows["test"])) / sizes["test"] < 0.6
    assert 0.45 < sum(r["truth"] for r in rows["test"]) / sizes["test"] < 0.55
    assert t.prompts("test", 50, 0) == rows["test"][:50]  # a prefix: more items, same first ones
    with pytest.raises(DeltaTheoryError, match="test split has 2047 questions"):
        t.prompts("test", 2048, 0)


def test_split_overlap_counts_what_the_first_versions_share():
    o = split_overlap(get_task("addition-choice"), {"train": 1000, "test": 2000})["test"]
    assert (o["same_as_train"], o["mirror_in_train"], o["repeated"]) == (0, 259, 0)
    assert len(o["overlapping_ids"]) == 259
    v2 = split_overlap(get_task("arithmetic-choice-v2"), {"train": 600, "test": 1000})["test"]
    assert v2["either_in_train"] == v2["repeated"] == v2["mirror_repeated"] == 0


def test_a_run_folder_records_versions_and_refuses_a_resume_under_others(tmp_path, monkeypatch):
    import json

    from deltatheory.llm.runs import Run

    from deltatheory import _io

    Run.open(tmp_path / "r", {"a": 1}, code_version="x-1")
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["versions"] == _io.versions() and saved["versions"]["numpy"]
    Run.open(tmp_path / "r", {"a": 1}, code_version="x-1")  # same versions: resumes
    monkeypatch.setattr(_io, "versions", lambda: {**saved["versions"], "torch": "9.9"})
    with pytest.raises(DeltaTheoryError, match="started with torch"):
        Run.open(tmp_path / "r", {"a": 1}, code_version="x-1")


def test_experiment_pairs_are_reused_only_under_the_same_key(tmp_path):
    from deltatheory.llm.pairs import save_pairs, saved_pairs_match

    pairs = [{"prompt": "p", "chosen": "c", "rejected": "r"}]
    assert not saved_pairs_match(tmp_path / "pairs", "k1")
    save_pairs(pairs, tmp_path / "pairs", key="k1")
    assert saved_pairs_match(tmp_path / "pairs", "k1")
    assert not saved_pairs_match(tmp_path / "pairs", "k2")  # other code or settings
    save_pairs(pairs, tmp_path / "unkeyed")
    assert not saved_pairs_match(tmp_path / "unkeyed", "k1")  # saved by older code
