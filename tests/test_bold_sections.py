"""The warm-up's data (issue 13): prompts with three topic-disjoint splits, k-section answers
built from a model's own answer, and the experiment features the sweep stands on (validation
split, the selection rule, samples, the histogram, budgeted training)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from deltatheory.llm.sections import (
    FRAMES,
    SPLIT_TOPICS,
    count_bold_header_lines,
    count_bold_lead_ins,
    count_heading_lines,
    plain_units,
    read_samples,
    section_count_report,
    sectioned,
)
from deltatheory.llm.tasks import count_bold_sections, get_task

from deltatheory.errors import BadData, DeltaTheoryError

# answers in the shapes SmolLM2-135M-Instruct writes (seen in its greedy answers)
LISTED = """Getting better sleep takes a few habits. Here are some tips:

1. **Keep a schedule**: Go to bed at the same time every night. Wake up at the same time too.

2. **Dim the lights**: Bright screens keep you awake, so turn them off an hour before bed.

3. Avoid caffeine: Coffee late in the day makes it harder to fall asleep. Try tea instead.

4. **Exercise**: A short walk in the morning helps. Even ten minutes counts.

5. Keep the room cool"""
PROSE = ("Learning to knit is fun. Start with a simple scarf, since it uses one stitch. Buy "
         "thick yarn and large needles, because they are easier to handle. Practise a little "
         "every day. Ask a friend to show you the basics, or watch a video.")
HEADED = """Here is a plan.

**Plan ahead**
Write down what you need. Check the weather.

**Pack light**
Take only what you will use."""


def _words(text: str) -> list[str]:
    """The answer's words without the header lines and markup."""
    body = [ln for ln in text.split("\n") if not re.match(r"^\*\*[^*]+\*\*$", ln.strip())]
    return re.findall(r"[A-Za-z0-9']+", " ".join(body).replace("**", ""))


@pytest.mark.parametrize("answer", [LISTED, PROSE, HEADED])
@pytest.mark.parametrize("k", [1, 2, 3, 9])
def test_sectioned_writes_exactly_k_bold_headers(answer, k):
    for seed in range(5):
        out = sectioned(answer, k, np.random.default_rng(seed))
        if out is None:  # only when the answer cannot give k sentences or clauses
            assert k == 9
            continue
        assert count_bold_sections(out) == k
        assert out == sectioned(answer, k, np.random.default_rng(seed))  # deterministic


def test_two_and_three_sections_share_every_sentence_in_order():
    a2 = sectioned(LISTED, 2, np.random.default_rng(0))
    a3 = sectioned(LISTED, 3, np.random.default_rng(1))
    # the same content words in the same order; only header lines differ (an item title that
    # opens a section moves into its header, so compare without the titles)
    titles = {"Keep", "a", "schedule", "Dim", "the", "lights", "Avoid", "caffeine", "Exercise"}

    def content(x):
        return [w for w in _words(x) if w not in titles]

    assert content(a2) == content(a3)
    assert "Keep the room cool" not in a2  # the unfinished last item is dropped
    assert "Getting better sleep takes a few habits." in a2.split("\n")[0]  # the intro stays


def test_the_models_own_titles_become_headers_and_tied_answers_differ():
    intro, items = plain_units(LISTED)
    assert [t for t, _ in items] == ["Keep a schedule", "Dim the lights", "Avoid caffeine",
                                     "Exercise"]
    assert intro == ["Getting better sleep takes a few habits.", "Here are some tips:"]
    heads = set()
    outs = set()
    for seed in range(6):
        out = sectioned(LISTED, 3, np.random.default_rng(seed))
        heads |= set(re.findall(r"^\*\*([^*]+)\*\*$", out, re.M))
        outs.add(out)
    assert heads <= {"Keep a schedule", "Dim the lights", "Avoid caffeine", "Exercise"}
    assert len(outs) > 1  # different random streams place the sections differently


def test_too_short_answers_give_none():
    assert sectioned("Sure.", 2, np.random.default_rng(0)) is None
    assert sectioned("", 1, np.random.default_rng(0)) is None
    with pytest.raises(ValueError):
        sectioned(PROSE, 0, np.random.default_rng(0))


def test_splits_never_share_a_topic_and_hold_over_1000_training_prompts():
    tr, va, te = (set(SPLIT_TOPICS[s]) for s in ("train", "validation", "test"))
    assert not (tr & va or tr & te or va & te)
    assert len(tr) * len(FRAMES) >= 1000
    task = get_task("bold-sections")
    rows = task.prompts("train", 1296, seed=0)
    assert len({r["prompt"][0]["content"] for r in rows}) == 1296  # all distinct
    assert {r["topic"] for r in rows} == tr
    assert {r["topic"] for r in task.prompts("test", 50, 0)} <= te
    assert {r["topic"] for r in task.prompts("validation", 50, 0)} <= va
    assert task.prompts("test", 5, 0) == task.prompts("test", 5, 0)
    assert task.prompts("test", 5, 0) != task.prompts("test", 5, 1)
    with pytest.raises(DeltaTheoryError, match="has 1296 prompts; asked for 1297"):
        task.prompts("train", 1297, 0)
    with pytest.raises(DeltaTheoryError, match="not one of train, validation, test"):
        task.prompts("dev", 5, 0)
    # the other tasks draw validation items from their own stream
    ar = get_task("arithmetic")
    assert ar.prompts("validation", 5, 0) != ar.prompts("test", 5, 0)


def test_synthetic_table_from_own_answers_drops_short_ones():
    from deltatheory.llm.pairs import synthetic_table

    task = get_task("bold-sections")
    rows = task.prompts("train", 3, 0)
    answers = {rows[0]["id"]: LISTED, rows[1]["id"]: "Sure.", rows[2]["id"]: PROSE}
    tab = synthetic_table(task, rows, 3, 2, 0, answers=answers)
    assert [r["id"] for r in tab] == [rows[0]["id"], rows[2]["id"]]
    for r in tab:
        assert count_bold_sections(r["synthetic_chosen"]) == 3
        assert count_bold_sections(r["synthetic_rejected"]) == 2
    with pytest.raises(BadData, match="long enough for 3 sections"):
        synthetic_table(task, rows[1:2], 3, 2, 0, answers=answers)
    # the template generator stays available (no answers given)
    tmpl = synthetic_table(task, rows, 3, 2, 0)
    assert len(tmpl) == 3 and "Here are a few ideas" in tmpl[0]["synthetic_chosen"]


def test_own_source_pairs_use_the_students_answers_with_pair_generation(monkeypatch, tmp_path):
    from deltatheory.llm.studies import experiment as ex

    cfg = ex.load_config(overrides={
        "student": "my-student", "generation": {"max_new_tokens": 256},
        "pair_generation": {"max_new_tokens": 64},
        "arms": [{"name": "d", "method": "dpo-norm",
                  "pairs": {"synthetic": {"chosen": 3, "rejected": 2, "source": "own"}}}]})
    seen = {}

    def fake_generate(model, rows, folder, gen, *, seed):
        seen.update(model=model, tokens=gen.max_new_tokens, seed=seed)
        return {r["id"]: LISTED for r in rows}

    monkeypatch.setattr(ex, "generate", fake_generate)
    task = get_task("bold-sections")
    rows = task.prompts("train", 4, 0)
    pairs = ex.pairs_for(cfg.arms[0], cfg, task, rows, tmp_path)
    assert seen == {"model": "my-student", "tokens": 64, "seed": 0}
    assert len(pairs) == 4
    assert count_bold_sections(pairs[0]["chosen"][0]["content"]) == 3
    assert count_bold_sections(pairs[0]["rejected"][0]["content"]) == 2


@pytest.mark.parametrize("over, message", [
    ({"select": ["untouched"]}, "set prompts.validation"),
    ({"select": ["nope"], "prompts": {"validation": 2}}, "select names 'nope'"),
    ({"arms": [{"name": "d", "method": "dpo", "pairs": {"synthetic": {"chosen": 3, "rejected": 2,
                                                                      "source": "web"}}}]},
     "source='web' is not one of template, own"),
    ({"arms": [{"name": "d", "method": "dpo", "pairs": {"synthetic": {"chosen": 0,
                                                                      "rejected": 2}}}]},
     "whole numbers >= 1"),
    ({"pair_generation": {"max_new_tokens": 0}}, "max_new_tokens=0"),
    ({"samples": -1}, "samples=-1 must be a whole number >= 0"),
    ({"prompts": {"train": 2000}}, "has 1296 prompts; asked for 2000"),
    ({"train": {"subsample": True}}, "subsample=true needs max_steps"),
    ({"task": "arithmetic-choice", "prompts": {"validation": 2},
      "arms": [{"name": "u", "method": "none"}]}, None),
])
def test_bad_sweep_settings_are_one_line_errors(over, message):
    from deltatheory.llm.studies.experiment import load_config

    if message is None:
        load_config(overrides=over)  # a task with a validation stream accepts it
        return
    with pytest.raises(DeltaTheoryError, match=re.escape(message)):
        load_config(overrides=over)


def test_an_arms_own_seed_wins_over_the_studys():
    from deltatheory.llm.studies.experiment import load_config

    cfg = load_config(overrides={"seed": 3, "arms": [
        {"name": "a", "method": "dpo", "pairs": {"synthetic": {"chosen": 3, "rejected": 2}}},
        {"name": "b", "method": "dpo", "train": {"seed": 5},
         "pairs": {"synthetic": {"chosen": 3, "rejected": 2}}}]})
    assert [cfg.train_config(a).seed for a in cfg.arms] == [3, 5]


def test_select_picks_the_highest_validation_mean_and_breaks_ties_by_order():
    from deltatheory.llm.studies.experiment import ArmResult, select

    def arm(name, v):
        return ArmResult(arm=name, method="dpo", control="none", pairs=None, metric_mean=0.0,
                         metric_ci95=None, n_test=1, validation_mean=v)

    res = [arm("a", 1.0), arm("b", 2.5), arm("c", 2.5), arm("d", 0.1)]
    assert select(res, ["a", "b", "c"])["arm"] == "b"
    assert select(res, ["c", "b"])["arm"] == "c"
    assert select(res, ["a", "d"])["arm"] == "a"
    assert "validation" in select(res, ["a"])["rule"]


def test_budgeted_training_uses_exactly_the_pairs_its_steps_consume(tiny_dir, tiny_pairs,
                                                                     tmp_path, monkeypatch):
    from datasets import Dataset
    from deltatheory.llm import train as tr

    seen = []
    real = tr._trainer

    def spy(cfg, model, tokenizer, pairs, work):
        seen.append([p["id"] for p in pairs])
        return real(cfg, model, tokenizer, pairs, work)

    monkeypatch.setattr(tr, "_trainer", spy)
    pool = Dataset.from_list([{**p, "id": f"{p['id']}-{i}"} for i in range(3)
                              for p in tiny_pairs.to_list()])
    cfg = tr.TrainConfig(method="dpo", max_steps=2, batch_size=2, lora=False, dtype="fp32",
                         subsample=True, precompute_ref=True, max_length=64)
    tr.train(tiny_dir, pool, tmp_path / "a", cfg, save=False)
    tr.train(tiny_dir, pool, tmp_path / "b", cfg, save=False)
    assert len(seen[0]) == 4 and len(set(seen[0])) == 4 and seen[0] == seen[1]
    tr.train(tiny_dir, pool, tmp_path / "c", tr.TrainConfig(**{**cfg.__dict__, "seed": 1}),
             save=False)
    assert seen[2] != seen[0]
    tr.train(tiny_dir, pool, tmp_path / "d",
             tr.TrainConfig(**{**cfg.__dict__, "subsample": False}), save=False)
    assert len(seen[3]) == len(pool)  # without subsample TRL gets the whole pool


def test_run_writes_validation_selection_samples_and_histogram(tiny_dir, tmp_path):
    from deltatheory.llm.studies.experiment import load_config, run

    cfg = load_config(overrides={
        "student": tiny_dir, "task": "bold-sections", "bootstrap": 50,
        "prompts": {"train": 4, "validation": 3, "test": 3},
        "generation": {"max_new_tokens": 4, "batch_size": 4},
        "train": {"max_steps": 1, "batch_size": 2, "lora": False, "dtype": "fp32"},
        "baseline": "untouched", "select": ["d1", "d2"], "samples": 2,
        "arms": [{"name": "untouched", "method": "none"},
                 {"name": "d1", "method": "dpo-norm",
                  "pairs": {"synthetic": {"chosen": 3, "rejected": 2}}},
                 {"name": "d2", "method": "dpo-norm", "train": {"learning_rate": 1.0e-3},
                  "pairs": {"synthetic": {"chosen": 3, "rejected": 2}}}]})
    out = run(cfg, tmp_path / "run", progress=lambda *_: None)
    vals = {a["arm"]: a["validation_mean"] for a in out["arms"]}
    assert all(len(a["validation_scores"]) == 3 for a in out["arms"])
    want = max(["d1", "d2"], key=lambda a: (vals[a], -["d1", "d2"].index(a)))
    assert out["selected"]["arm"] == want
    assert out["selected"]["validation_means"] == {"d1": vals["d1"], "d2": vals["d2"]}
    folder = tmp_path / "run"
    md = (folder / "results.md").read_text()
    assert f"{want} (selected)" in md and "validation [95 % CI]" in md
    assert (folder / "results_hist.png").stat().st_size > 0
    samples = (folder / "arms" / "d1" / "samples.md").read_text()
    assert samples.count("**Prompt:**") == 2
    saved = json.loads((folder / "results.json").read_text())
    assert saved["selected"] == out["selected"]


# ---- counting bold sections two ways: stand-alone header lines vs bold lead-ins ----------------
RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
MIXED = """Intro with **bold** inside a sentence.

## Getting started
### **Plan ahead**
**Pack light**
**Check the weather:**
**Book early**:
1. **Keep a schedule**: Go to bed early.
- **Note:** rest matters.
**Tip** drink water.
* **Walk**
#
**Unclosed title
__Under__
**Bold *nested* text**"""


def test_mixed_text_has_known_counts_and_the_two_kinds_sum_to_the_old_counter():
    assert count_bold_header_lines(MIXED) == 5  # Plan ahead, Pack light, Check…, Book…, Walk
    assert count_bold_lead_ins(MIXED) == 3  # Keep a schedule, Note, Tip
    assert count_heading_lines(MIXED) == 2  # ## Getting started, ### **Plan ahead**
    assert count_bold_sections(MIXED) == 8


@pytest.mark.parametrize("line, header, lead_in, heading, old", [
    ("**Title**", 1, 0, 0, 1),
    ("**Title:**", 1, 0, 0, 1),
    ("**Title**:  ", 1, 0, 0, 1),
    ("  2) **Indented**", 1, 0, 0, 1),
    ("### **Title**", 1, 0, 1, 1),
    ("## Title", 0, 0, 1, 0),  # a heading without bold: no counter but the heading one
    ("1. **Title**: text", 0, 1, 0, 1),
    ("- **Note:** text", 0, 1, 0, 1),
    ("**Note:** text", 0, 1, 0, 1),
    ("**Title**.", 0, 1, 0, 1),  # anything but a colon after the bold makes a lead-in
    ("## **Title** and more", 0, 1, 1, 1),
    ("Not **this** one", 0, 0, 0, 0),
    ("10. **Cut off at the token budget", 0, 0, 0, 0),
    ("#", 0, 0, 0, 0),
    ("__Title__", 0, 0, 0, 0),
])
def test_one_line_counts(line, header, lead_in, heading, old):
    text = f"Intro.\n\n{line}\nBody text."
    assert (count_bold_header_lines(text), count_bold_lead_ins(text), count_heading_lines(text),
            count_bold_sections(text)) == (header, lead_in, heading, old)


def test_sectioned_answers_are_all_header_lines_and_the_models_lists_all_lead_ins():
    out = sectioned(LISTED, 3, np.random.default_rng(0))
    assert count_bold_header_lines(out) == 3 and count_bold_lead_ins(out) == 0
    assert count_bold_header_lines(LISTED) == 0 and count_bold_lead_ins(LISTED) == 3


def test_read_samples_round_trips_what_the_experiment_writes(tmp_path):
    from types import SimpleNamespace

    from deltatheory.llm.studies.experiment import _write_samples

    answers = {"a": "## Plan\n\n```python\nx = 1\n```\n\n**Rest**\nSleep.", "b": "", "c": "#\n"}
    rows = [{"id": k, "prompt": [{"role": "user", "content": f"Q {k}?"}]} for k in answers]
    task = SimpleNamespace(score=lambda r, a: float(count_bold_sections(a)))
    _write_samples(tmp_path / "arm.md", "arm", rows, answers, task)
    got = read_samples(tmp_path / "arm.md")
    assert [(r["id"], r["answer"], r["score"]) for r in got] == [
        ("a", answers["a"], 1.0), ("b", "", 0.0), ("c", "#\n", 0.0)]


@pytest.mark.parametrize("folder", ["bold_sections", "bold_sections_sweep"])
def test_report_on_a_shipped_folder_matches_a_recount_and_the_shipped_scores(folder):
    report = section_count_report(RESULTS / folder)
    shipped = {a["arm"]: a for a in
               json.loads((RESULTS / folder / "results.json").read_text())["arms"]}
    assert list(report["arms"]) == [a for a in shipped]
    # recount one samples file by hand: the answers sit between ```text and ```
    text = (RESULTS / folder / "samples" / "untouched.md").read_text()
    answers = re.findall(r"```text\n(.*?)\n```\n", text, re.DOTALL)
    u = report["arms"]["untouched"]
    assert u["n"] == len(answers) == 2
    for key, count in [("old_counter", count_bold_sections), ("lead_ins", count_bold_lead_ins),
                       ("header_lines", count_bold_header_lines),
                       ("heading_lines", count_heading_lines)]:
        assert u[f"mean_{key}"] == pytest.approx(np.mean([count(a) for a in answers]))
    for arm, a in report["arms"].items():
        old = [x["old_counter"] for x in a["answers"]]
        # the saved answers are the first held-out prompts: their scores open results.json's
        assert old == [x["saved_score"] for x in a["answers"]] == shipped[arm]["scores"][:a["n"]]
        assert all(x["header_lines"] + x["lead_ins"] == x["old_counter"] for x in a["answers"])
    # the shipped section_counts.json is this report
    assert json.loads((RESULTS / folder / "section_counts.json").read_text()) == \
        json.loads(json.dumps(report | {"folder": f"experiments/results/{folder}"}))


def test_report_cli_prints_a_table_or_json_and_writes_both_files(tmp_path, capsys):
    import shutil

    from deltatheory.llm.sections import main

    shutil.copytree(RESULTS / "bold_sections" / "samples", tmp_path / "samples")
    assert main(["--report", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "| untouched | 2 | 4.50 | 0.00 | 4.50 | 0.00 |  |" in table
    assert main(["--report", str(tmp_path), "--json", "--write"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "section_counts.json").read_text())
    assert (tmp_path / "section_counts.md").read_text() == table
    assert printed["arms"]["sft-3"]["mean_old_counter"] == 0.0


def test_report_on_a_folder_without_samples_is_a_one_line_error(tmp_path):
    with pytest.raises(DeltaTheoryError, match="no saved answers"):
        section_count_report(tmp_path)
