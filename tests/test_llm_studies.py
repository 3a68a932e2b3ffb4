"""The experiment recipe's comparisons, diagnostics and bad-input handling (issue: related
methods measured on real models): random-weight controls, the share of a gap recovered, the
chosen / rejected log-probabilities, and no half-written run folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deltatheory.errors import DeltaTheoryError


def test_random_weights_ignore_the_gap_are_seeded_and_have_mean_one():
    from deltatheory.llm.losses import weights_from_gap

    gap = torch.tensor([0.0, 1.0, 5.0, 2.0, 0.5, 3.0])
    w = weights_from_gap(gap, "random", seed=3)
    assert torch.allclose(w.mean(), torch.tensor(1.0))
    assert bool((w >= 0).all())
    assert torch.equal(w, weights_from_gap(gap * 0 + 7, "random", seed=3))  # gap ignored
    assert not torch.equal(w, weights_from_gap(gap, "random", seed=4))
    assert len(set(w.tolist())) == len(w)  # not constant
    with pytest.raises(DeltaTheoryError, match="non-finite"):
        weights_from_gap(torch.tensor([1.0, float("nan")]), "random")


def test_gap_recovered_is_its_definition_with_a_paired_ci():
    from deltatheory.stats import gap_recovered

    rng = np.random.default_rng(0)
    floor = (rng.random(400) < 0.3).astype(float)
    ceiling = np.maximum(floor, (rng.random(400) < 0.5).astype(float))
    arm = np.where(rng.random(400) < 0.5, ceiling, floor)
    r = gap_recovered(floor, arm, ceiling, 500, 1)
    want = (arm.mean() - floor.mean()) / (ceiling.mean() - floor.mean())
    assert r.value == pytest.approx(want)
    assert r.ci95[0] < want < r.ci95[1]
    assert gap_recovered(floor, floor, ceiling, 200).value == 0.0
    assert gap_recovered(floor, ceiling, ceiling, 200).value == 1.0
    low = gap_recovered(ceiling, arm, floor, 200)
    assert low.value is None and low.ci95 is None and "not above" in low.why
    with pytest.raises(ValueError):
        gap_recovered(floor, arm[:-1], ceiling)


def _cfg(**kw):
    from deltatheory.llm.studies.experiment import load_config

    arms = [{"name": "untouched", "method": "none"},
            {"name": "dpo", "method": "dpo", "pairs": {"synthetic": {"chosen": 3, "rejected": 2}}},
            {"name": "teacher", "method": "none", "model": "smollm2-135m-instruct"}]
    return load_config(overrides={"arms": arms, **kw})


@pytest.mark.parametrize("kw, message", [
    ({"baseline": "nope"}, "baseline='nope' is not one of the arms"),
    ({"ceiling": "teacher"}, "ceiling needs a baseline"),
    ({"baseline": "untouched", "ceiling": "gone"}, "ceiling='gone' is not one of the arms"),
    ({"logp_probe": -1}, "logp_probe=-1 must be a whole number >= 0"),
    ({"train": {"weight_mapping": "sometimes"}}, "weight_mapping='sometimes' is not one of"),
])
def test_comparison_settings_are_checked_up_front(kw, message):
    with pytest.raises(DeltaTheoryError, match=message):
        _cfg(**kw)


def test_arms_are_compared_with_the_baseline_and_the_ceiling():
    from deltatheory.llm.studies.experiment import ArmResult, compare, markdown

    cfg = _cfg(baseline="untouched", ceiling="teacher", bootstrap=300)
    base, dpo, top = [0, 0, 1, 0] * 25, [1, 0, 1, 0] * 25, [1, 1, 1, 0] * 25

    def arm(name, scores, **kw):
        return ArmResult(arm=name, method="none", control="none", pairs=None,
                         metric_mean=float(np.mean(scores)), metric_ci95=[0, 1],
                         n_test=len(scores), scores=scores, **kw)

    results = [arm("untouched", base),
               arm("dpo", dpo, logps={"n": 2, "chosen_before": -10.0, "chosen_after": -12.5,
                                      "rejected_before": -11.0, "rejected_after": -20.0}),
               arm("teacher", top)]
    c = compare(results, cfg)
    assert c["untouched"]["change"] == 0.0
    assert c["dpo"]["change"] == pytest.approx(0.25)
    lo, hi = c["dpo"]["change_ci95"]
    assert 0 < lo < 0.25 < hi
    assert c["dpo"]["recovered"]["value"] == pytest.approx(0.5)
    assert c["teacher"]["recovered"]["value"] == pytest.approx(1.0)
    md = markdown("accuracy", results, c)
    assert "gap recovered" in md.splitlines()[0]
    assert "-10.0 → -12.5" in md and "-11.0 → -20.0" in md
    assert "change" not in markdown("accuracy", results).splitlines()[0]
    # without a baseline nothing is compared
    assert compare(results, _cfg()) == {}


def _failing(tiny_dir, arms_before=()):
    from deltatheory.llm.studies.experiment import load_config

    # dolci keeps a pair only when chosen scores 1 and rejected 0: bold-section counts of a
    # tiny random model are never that, so the filter leaves no pairs
    return load_config(overrides={
        "student": tiny_dir, "task": "bold-sections", "bootstrap": 100,
        "prompts": {"train": 2, "test": 2},
        "generation": {"max_new_tokens": 4, "batch_size": 2},
        "arms": [*arms_before,
                 {"name": "filtered", "method": "dpo", "dolci": True,
                  "pairs": {"chosen": tiny_dir, "rejected": f"{tiny_dir}@prune-0.5"}}]})


def test_a_filter_that_leaves_no_pairs_leaves_no_run_folder(tiny_dir, tmp_path):
    from deltatheory.llm.studies import experiment

    with pytest.raises(DeltaTheoryError, match="no pairs left"):
        experiment.run(_failing(tiny_dir), tmp_path / "run", progress=lambda m: None)
    assert not (tmp_path / "run").exists()


def test_a_failing_arm_keeps_the_finished_ones(tiny_dir, tmp_path):
    from deltatheory.llm.studies import experiment

    cfg = _failing(tiny_dir, [{"name": "untouched", "method": "none"}])
    with pytest.raises(DeltaTheoryError, match="no pairs left"):
        experiment.run(cfg, tmp_path / "run", progress=lambda m: None)
    arms = tmp_path / "run" / "arms"
    assert (arms / "untouched" / "metrics.json").exists()
    assert not (arms / "filtered").exists()
    assert json.loads((arms / "untouched" / "metrics.json").read_text())["n_test"] == 2


def test_cli_run_with_an_empty_filter_exits_2_in_one_line(tiny_dir, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from deltatheory.cli import app

    cfg = tmp_path / "exp.yaml"
    cfg.write_text(yaml.safe_dump({
        "student": tiny_dir, "task": "bold-sections", "prompts": {"train": 2, "test": 2},
        "generation": {"max_new_tokens": 4, "batch_size": 2},
        "arms": [{"name": "filtered", "method": "dpo", "dolci": True,
                  "pairs": {"chosen": tiny_dir, "rejected": f"{tiny_dir}@prune-0.5"}}]}))
    res = CliRunner().invoke(app, ["llm", "run", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2, res.output
    assert "no pairs left" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "run").exists()


def test_arithmetic_ranks_by_closeness_but_dolci_filters_by_correctness():
    from deltatheory.llm.pairs import make_pairs
    from deltatheory.llm.tasks import get_task

    task = get_task("arithmetic")
    row = {"id": "a", "prompt": [{"role": "user", "content": "What is 20+22?"}], "answer": 42}
    table = [{**row, "m1": "20 + 22 = 42.", "m2": "20 + 22 = 41.", "m3": "I think 90"}]
    # the graded utility ranks all three: best = right, worst = farthest
    [p] = make_pairs(table, utility=task.utility, columns=["m1", "m2", "m3"])
    assert (p["chosen_utility"], p["rejected_utility"]) == (1.0, 0.0)
    assert p["rejected"][0]["content"] == "I think 90"
    # Dolci keeps right-over-wrong even when the wrong answer is close (closeness 0.9)...
    kept = make_pairs(table, chosen="m1", rejected="m2", utility=task.utility,
                      correct=task.score, dolci=True)
    assert kept[0]["rejected_utility"] == pytest.approx(0.9)
    # ...and drops a pair whose chosen side is wrong
    with pytest.raises(DeltaTheoryError, match="no pairs left"):
        make_pairs(table, chosen="m2", rejected="m3", utility=task.utility,
                   correct=task.score, dolci=True)


def test_every_shipped_experiment_config_resolves():
    from pathlib import Path

    from deltatheory.llm.studies.experiment import load_config, models_of

    root = Path(__file__).parent.parent / "experiments"
    for path in sorted(root.glob("*.yaml")):
        if path.name == "ladder.yaml":
            continue  # the ladder study has its own loader (tested in test_llm.py)
        if path.name.startswith("separation"):
            from deltatheory.llm.studies import separation

            for quick in (False, True):  # its own loader (tested in test_separation.py)
                assert separation.load_config(path, quick=quick).seeds
            continue
        for quick in (False, True):
            cfg = load_config(path, quick=quick)
            assert models_of(cfg)
    cfg = load_config(root / "dadpo_pruned.yaml")
    assert (cfg.baseline, cfg.ceiling) == ("untouched", "teacher")
    assert [cfg.train_config(a).beta2 for a in cfg.arms if a.method == "dadpo"] == [0.0, 0.1, 0.5]


def test_arithmetic_choice_pairs_carry_a_graded_gap():
    from deltatheory.llm.pairs import make_pairs
    from deltatheory.llm.tasks import get_task

    task = get_task("arithmetic-choice")
    rows = task.prompts("train", 60, 0)
    gaps = set()
    for r in rows:
        right, wrong = (r["candidates"] if r["truth"] else r["candidates"][::-1])
        [p] = make_pairs([{**r, "a": right, "b": wrong}], utility=task.utility,
                         columns=["a", "b"], correct=task.score, dolci=True)
        assert p["chosen"][0]["content"] == right
        gaps.add(round(p["chosen_utility"] - p["rejected_utility"], 6))
    assert gaps == {0.1, 0.2, 1.0}


def test_multiturn_arithmetic_has_a_worked_exchange_on_every_odd_row():
    from deltatheory.llm.tasks import get_task

    task = get_task("arithmetic-multiturn")
    rows = task.prompts("train", 10, 0)
    assert rows == task.prompts("train", 10, 0)
    assert [len(r["prompt"]) for r in rows] == [1, 3] * 5
    for r in rows:
        assert r["prompt"][-1]["content"].startswith("What is ")
        a, b = (int(x) for x in r["prompt"][-1]["content"][8:-1].split("+"))
        assert r["answer"] == a + b
        if len(r["prompt"]) == 3:  # the worked exchange is right
            c, d = (int(x) for x in r["prompt"][0]["content"][8:-1].split("+"))
            assert r["prompt"][1] == {"role": "assistant", "content": f"{c} + {d} = {c + d}."}
    test = task.prompts("test", 10, 0)
    assert {r["answer"] for r in test} != {r["answer"] for r in rows}
    assert task.score(rows[1], f"= {rows[1]['answer']}") == 1.0


def test_a_base_model_gets_a_plain_transcript(smol_tokenizer):
    from deltatheory.llm.generate import render_prompt, uses_chat

    assert uses_chat("gemma3-270m", smol_tokenizer) is False  # marked as a base model
    assert uses_chat("smollm2-135m-instruct", smol_tokenizer) is True
    assert uses_chat("some/hub-model", smol_tokenizer) is True  # the tokenizer has a template

    class NoTemplate:
        chat_template = None

    assert uses_chat("some/base-model", NoTemplate()) is False
    msgs = [{"role": "user", "content": "What is 1+2?"}]
    assert render_prompt(smol_tokenizer, msgs, chat=False) == "Question: What is 1+2?\nAnswer:"
    assert render_prompt(smol_tokenizer, msgs, chat=True).endswith("assistant\n")


def test_a_choice_task_runs_end_to_end_and_resumes(tiny_dir, tmp_path):
    from deltatheory.llm.studies import experiment

    cfg = experiment.load_config(overrides={
        "student": tiny_dir, "task": "arithmetic-choice", "bootstrap": 100,
        "baseline": "untouched", "ceiling": "other", "logp_probe": 3,
        "prompts": {"train": 24, "test": 10}, "generation": {"dtype": "fp32"},
        "train": {"max_steps": 2, "batch_size": 2, "dtype": "fp32", "max_length": 128},
        "arms": [{"name": "untouched", "method": "none"},
                 {"name": "dpo", "method": "dpo",
                  "pairs": {"chosen": tiny_dir, "rejected": f"{tiny_dir}@prune-0.9"}},
                 {"name": "other", "method": "none", "model": f"{tiny_dir}@prune-0.9"}]})
    res = experiment.run(cfg, tmp_path / "run", progress=lambda m: None)
    assert res["metric"] == "accuracy (log-prob choice)"
    arms = {a["arm"]: a for a in res["arms"]}
    for a in arms.values():
        assert len(a["scores"]) == 10 and set(a["scores"]) <= {0.0, 1.0}
        assert a["metric_mean"] == pytest.approx(np.mean(a["scores"]))
        assert a["change"] == pytest.approx(a["metric_mean"] - arms["untouched"]["metric_mean"])
        assert "recovered" in a
    lp, n_pairs = arms["dpo"]["logps"], arms["dpo"]["pair_diagnostics"]["pairs"]
    assert lp["n"] == min(3, n_pairs) and lp["margin_before"] == pytest.approx(
        lp["chosen_before"] - lp["rejected_before"])
    # every pair is a disagreement of the two models, kept whichever side is right
    assert arms["dpo"]["pair_diagnostics"]["identical_rate"] == 0.0
    assert arms["dpo"]["pair_diagnostics"]["prompts"] == 24
    assert list((tmp_path / "run" / "responses").glob("*.choice.*.json"))
    again = experiment.run(cfg, tmp_path / "run", progress=lambda m: None)
    strip = [{k: v for k, v in a.items() if k != "seconds"} for a in res["arms"]]
    assert [{k: v for k, v in a.items() if k != "seconds"} for a in again["arms"]] == strip


def test_choice_answers_are_keyed_by_dtype_and_candidates(tiny_dir, tmp_path):
    from deltatheory.llm.choice import choice_answers
    from deltatheory.llm.tasks import get_task

    rows = get_task("arithmetic-choice").prompts("test", 4, 0)
    a = choice_answers(tiny_dir, rows, tmp_path, progress=False)
    assert all(a[r["id"]] in r["candidates"] for r in rows)
    choice_answers(tiny_dir, rows, tmp_path, dtype="bf16", progress=False)
    swapped = [{**r, "candidates": r["candidates"][::-1]} for r in rows]
    b = choice_answers(tiny_dir, swapped, tmp_path, progress=False)
    assert len(list((tmp_path / "responses").glob("*.choice.*.json"))) == 3
    assert {r["id"]: a[r["id"]] for r in rows} == b  # the same preference, either order


def test_an_existing_out_folder_survives_a_failing_first_arm(tiny_dir, tmp_path):
    from deltatheory.llm.studies import experiment

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DeltaTheoryError, match="no pairs left"):
        experiment.run(_failing(tiny_dir), out, progress=lambda m: None)
    assert (out / "notes.txt").read_text() == "keep me"
    assert not (out / "arms" / "filtered").exists()


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/b", ".hidden", "..", "a b"])
def test_arm_names_must_be_plain_folder_names(bad):
    from deltatheory.llm.studies.experiment import load_config

    with pytest.raises(DeltaTheoryError, match="arm name"):
        load_config(overrides={"arms": [{"name": bad, "method": "none"}]})
    load_config(overrides={"arms": [{"name": "dadpo-b2-0.1", "method": "none"}]})


def test_weighted_training_draws_random_weights_from_the_seed(tiny_pairs):
    from datasets import Dataset
    from deltatheory.llm.train import TrainConfig, _with_weights

    ds = Dataset.from_list([{**p, "chosen_utility": 1.0, "rejected_utility": 0.0}
                            for p in tiny_pairs])
    w = {s: _with_weights(ds, TrainConfig(method="weighted", weight_mapping="random",
                                          seed=s))["weight"] for s in (0, 0, 1)}
    again = _with_weights(ds, TrainConfig(method="weighted", weight_mapping="random", seed=0))
    assert again["weight"] == w[0] and w[0] != w[1]
    assert np.mean(w[0]) == pytest.approx(1.0)


def test_a_base_model_answer_is_one_line_and_cached_apart(tiny_dir, tmp_path):
    from deltatheory.llm.generate import GenerationConfig, generate, shard_path
    from deltatheory.llm.models import load
    from deltatheory.llm.tasks import get_task

    rows = get_task("arithmetic-multiturn").prompts("train", 4, 0)
    gen = GenerationConfig(max_new_tokens=12, batch_size=2)
    model, tok = load(tiny_dir)
    plain = generate("tiny", rows, tmp_path, gen, model=model, tokenizer=tok, chat=False,
                     progress=False)
    assert all("\n" not in a for a in plain.values())
    chat = generate("tiny", rows, tmp_path, gen, model=model, tokenizer=tok, chat=True,
                    progress=False)
    assert len(chat) == len(plain)
    from deltatheory.llm.generate import model_identity

    ident = model_identity("tiny", model)
    assert shard_path(tmp_path, "tiny", gen, 0, ident, False) != shard_path(tmp_path, "tiny",
                                                                             gen, 0, ident)
    assert shard_path(tmp_path, "tiny", gen, 0, ident, False).exists()
