"""The separation study (issue 23): constructed teachers, the pair rule, the pre-registration
guard, the arms and the analysis, on the tests' tiny model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the llm extra is part of the quickstart install")

from typer.testing import CliRunner  # noqa: E402

from deltatheory.cli import app  # noqa: E402
from deltatheory.errors import DeltaTheoryError  # noqa: E402

runner = CliRunner()
SHIPPED = Path(__file__).parent.parent / "experiments" / "separation.yaml"


def _tiny_cfg(tiny_dir, tmp_path, **over):
    from deltatheory.llm.studies.separation import load_config

    base = {"student": tiny_dir, "teachers": [f"{tiny_dir}@prune-0.3", f"{tiny_dir}@prune-0.6"],
            "constructed": [{"name": "truth~flip-0.2", "source": "truth", "flip": 0.2},
                            {"name": "student~flip-0.3", "source": "student", "flip": 0.3}],
            "bootstrap": 200, "batch_size": 16,
            "seed": 1,  # items on which the tiny random student is above chance (the bridge
            # needs that; asserted in the tests that run the study)
            "train": {"dtype": "fp32"},
            "preregistration": str(tmp_path / "prereg.json")}
    base.update(over)
    return load_config(overrides=base, quick=True)


def test_shipped_config_loads_and_is_the_default():
    from deltatheory.llm.studies import separation

    assert os.path.samefile(SHIPPED, separation.STUDY)
    cfg = separation.load_config(SHIPPED)
    assert cfg.task == "addition-choice-v2" and cfg.dtype == "fp32"
    assert cfg.select.n_pairs >= 20 and cfg.select.n_disagree >= 8 and len(cfg.seeds) >= 4
    fams = {separation.family(n, cfg) for n in separation.teacher_names(cfg)}
    assert fams == {"smollm2-135m-instruct", "gemma3-270m", "constructed"}
    assert cfg.preregistration.startswith("experiments/results/separation/")


def test_constructed_teachers_are_deterministic_and_flip_at_their_rate():
    from deltatheory.llm.studies.separation import constructed_margins
    from deltatheory.llm.tasks import get_task

    rows = {"test": get_task("addition-choice-v2").prompts("test", 2000, 0)}
    truth = np.array([r["truth"] for r in rows["test"]])
    e = {"name": "truth~flip-0.3", "source": "truth", "flip": 0.3}
    m = np.array(constructed_margins(e, None, rows, 0)["test"])
    wrong = ((m > 0).astype(int) != truth).mean()
    # a binomial share of 2000 draws: 4 standard errors
    assert abs(wrong - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 2000)
    assert m.tolist() == constructed_margins(e, None, rows, 0)["test"]
    # an item's flip follows its question, not its position or the split size
    sub = {"test": rows["test"][5:50][::-1]}
    assert constructed_margins(e, None, sub, 0)["test"] == m[5:50][::-1].tolist()
    # another name or another study seed flips other items
    other = np.array(constructed_margins({**e, "name": "truth~flip-0.3b"}, None, rows, 0)["test"])
    assert (other != m).any()
    # from a model's margins: the magnitudes kept, the signs flipped where drawn
    src = {"test": list(np.linspace(-2, 2, 2000))}
    got = np.array(constructed_margins({**e, "source": "x"}, src, rows, 0)["test"])
    assert np.allclose(np.abs(got), np.abs(src["test"]))
    flipped = np.sign(got) != np.sign(src["test"])
    assert flipped.mean() == pytest.approx(wrong, abs=1e-12)


def _cand(name, kappa, gap, c=None, r=None):
    c, r = c or name + "-c", r or name + "-r"
    return {"pair": name, "chosen": c, "rejected": r, "accuracy_gap": gap,
            "bridge": {"kappa": kappa}}


def test_selection_rule_takes_disagreements_first_then_spans_kappa():
    from deltatheory.llm.studies.separation import load_config, select

    cfg = load_config(overrides={"select": {"n_pairs": 5, "n_disagree": 2, "min_pairs": 1,
                                            "rank_gap": 0.5, "max_per_teacher": 9,
                                            "n_reversed": 2}})
    cands = [_cand("a", 0.30, 0.30), _cand("b", 0.20, 0.20), _cand("c", 0.10, 0.10),
             _cand("d", -0.05, 0.25),        # opposite signs: κ < 0 < gap
             _cand("e", 0.25, 0.01),         # ranks far apart
             _cand("f", 0.05, 0.05), _cand("g", 0.15, 0.15), _cand("h", 0.02, 0.02)]
    got = select(cfg, cands)
    names = [p["pair"] for p in got]
    assert len(names) == 5 and {"d", "e"} <= set(names)
    d = next(p for p in got if p["pair"] == "d")
    assert d["opposite_signs"] and d["disagree"]
    assert sum(p["disagree"] for p in got) >= 2
    # sorted by κ, largest first; the reversed control on the two largest |κ|
    ks = [p["bridge"]["kappa"] for p in got]
    assert ks == sorted(ks, reverse=True)
    assert {p["pair"] for p in got if p["reversed_control"]} == set(
        sorted(names, key=lambda n: -abs(next(p["bridge"]["kappa"] for p in got
                                              if p["pair"] == n)))[:2])
    # deterministic: the candidates' order does not matter
    assert [p["pair"] for p in select(cfg, cands[::-1])] == names
    # too few candidates: one line naming the numbers
    with pytest.raises(DeltaTheoryError, match="only 3 candidate pairs"):
        select(cfg, cands[:3])


def test_selection_respects_the_cap_per_teacher():
    from deltatheory.llm.studies.separation import load_config, select

    cfg = load_config(overrides={"select": {"n_pairs": 3, "n_disagree": 1, "min_pairs": 1,
                                            "max_per_teacher": 1, "n_reversed": 0}})
    cands = [_cand(f"p{i}", 0.1 * i, 0.1 * i, c="X", r=f"r{i}") for i in range(5)]
    with pytest.raises(DeltaTheoryError, match="max_per_teacher=1 leaves only 1"):
        select(cfg, cands)


def test_projected_half_width_adds_the_seed_and_item_shares():
    from deltatheory.llm.studies.separation import projected_half_width
    from scipy import stats

    rng = np.random.default_rng(0)
    before = rng.integers(0, 2, 400).astype(float)
    after = np.stack([np.where(rng.random(400) < 0.1, 1 - before, before) for _ in range(4)])
    g = after.mean(axis=1) - before.mean()
    got = projected_half_width(g, before, after, 4, 2000)
    seeds = g.var(ddof=1) / 4
    items = (after.mean(0) - before).var(ddof=1) / 2000
    df = (seeds + items) ** 2 / (seeds**2 / 3 + items**2 / 1999)
    assert got["half_width"] == pytest.approx(stats.t.ppf(0.975, df) * np.sqrt(seeds + items))
    # more seeds: narrower
    assert projected_half_width(g, before, after, 8, 2000)["half_width"] < got["half_width"]


@pytest.mark.parametrize("over, msg", [
    ({"constructed": [{"name": "truth~x", "source": "nobody", "flip": 0.1}]},
     "source 'nobody' is not truth or one of the teachers"),
    ({"constructed": [{"name": "plain", "source": "truth", "flip": 0.1}]}, "must be new and "
     "contain '~'"),
    ({"constructed": [{"name": "truth~x", "source": "truth", "flip": 0.7}]}, "flip=0.7"),
    ({"seeds": [0]}, "at least two seeds"),
    ({"select": {"n_disagree": 30}}, "n_disagree <= n_pairs"),
    ({"teachers": ["smollm2-135m-instruct"]}, "lists the student"),
    ({"noise": {"settings": [{"learning_rat": 1}]}}, "learning_rat"),
])
def test_config_errors_are_one_line(over, msg):
    from deltatheory.llm.studies.separation import load_config

    with pytest.raises(DeltaTheoryError, match=msg):
        load_config(overrides=over)


def test_cli_bad_config_exits_2_and_writes_nothing(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("constructed: [{name: 'a~b', source: ghost, flip: 0.1}]\n")
    r = runner.invoke(app, ["llm", "separation", str(f), "--out", str(tmp_path / "run")])
    assert r.exit_code == 2 and "ghost" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "run").exists()
    f.write_text("teachers: [/no/such/model/folder]\n")
    r = runner.invoke(app, ["llm", "separation", str(f), "--out", str(tmp_path / "run")])
    assert r.exit_code == 2 and "could not be loaded" in r.output, r.output
    assert not (tmp_path / "run").exists()


def test_a_model_that_loads_but_cannot_score_the_task_exits_2_and_writes_nothing(
        tiny_dir, smol_tokenizer, tmp_path):
    """A teacher whose embeddings are smaller than its tokeniser's vocabulary loads, then fails
    on the first item: refused in one line before the run folder exists."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    bad = tmp_path / "small-vocab"
    LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=1, num_attention_heads=2,
                                 num_key_value_heads=1)).save_pretrained(bad)
    smol_tokenizer.save_pretrained(bad)
    f = tmp_path / "s.yaml"
    f.write_text(f"student: {tiny_dir}\nteachers: [{tiny_dir}@prune-0.3, {bad}]\n"
                 "constructed: []\n")
    r = runner.invoke(app, ["llm", "separation", str(f), "--quick", "--out",
                            str(tmp_path / "run")])
    assert r.exit_code == 2, r.output
    assert f"model '{bad}' cannot score the task's items (IndexError" in r.output, r.output
    last = r.output.strip().splitlines()[-1]  # (loading bars on stderr come before it)
    assert last.startswith("error: model ") and "Traceback" not in r.output
    assert not (tmp_path / "run").exists()


def test_separation_runs_end_to_end_preregisters_and_resumes(tiny_dir, tmp_path):
    from deltatheory.llm.studies.separation import PREDICTORS, run

    cfg = _tiny_cfg(tiny_dir, tmp_path)
    out = tmp_path / "run"
    msgs = []
    s = run(cfg, out, progress=msgs.append)
    # quick: the pre-registration goes into the run folder and the study goes on
    reg = json.loads((out / "preregistration.json").read_text())
    assert [p["pair"] for p in reg["pairs"]] == [p["pair"] for p in s["pairs"]]
    assert len(reg["pairs"]) == 3 and sum(p["disagree"] for p in reg["pairs"]) >= 1
    for p in reg["pairs"]:
        assert {"kappa", "kappa_ci95", "predicted_sign", "accuracy_gap", "implicit_margin",
                "ches", "chosen_accuracy_on_disagreements"} <= set(p)
    names = [a["arm"] if "arm" in a else None for a in s["arms"]]
    assert all(names)  # arms carry their names
    kinds = [(a["pair"], a["kind"], a["seed"]) for a in s["arms"]]
    pairs = [p["pair"] for p in s["pairs"]]
    # seed-major: every pair's first DPO seed before any SFT, then SFT-all, the second seed, SFT
    expect = ([(p, "dpo", 0) for p in pairs] + [(p, "sft-all", 0) for p in pairs]
              + [(p, "dpo", 1) for p in pairs] + [(p, "sft", 0) for p in pairs]
              + [(p["pair"], "reversed", 0) for p in reg["pairs"] if p["reversed_control"]])
    # (the remaining seeds come after the reversed controls; this quick study has two)
    assert kinds == expect
    by = {(a["pair"], a["kind"], a["seed"]): a for a in s["arms"]}
    for p in pairs:
        # SFT on all chosen answers trains on every training item (then the budget's sample),
        # the other arms on the disagreements only
        assert by[(p, "sft-all", 0)]["n_rows"] == cfg.items.train
        assert by[(p, "sft", 0)]["n_rows"] == by[(p, "dpo", 0)]["n_rows"] < cfg.items.train
        assert by[(p, "dpo", 0)]["trained_fingerprint"] != by[(p, "dpo", 1)]["trained_fingerprint"]
        assert by[(p, "sft-all", 0)]["train_config"]["method"] == "sft"
    for a in s["arms"]:
        assert a["observed_gain"] == pytest.approx(a["accuracy_after"] - a["accuracy_before"])
        assert a["split"] == "test" and a["optimizer_steps"] == 2
    # the noise study ran on the validation items, with data and initialisation varied apart
    noise = s["noise"]
    assert noise["split"] == "validation" and noise["chosen"] == 0
    dr = noise["settings"][0]["drivers"]
    assert dr["data_only"]["n"] == 2 and dr["init_only"]["n"] == 2
    na = [json.loads(f.read_text()) for f in sorted((out / "arms").glob("noise.*/metrics.json"))]
    assert na and all(a["split"] == "validation" for a in na)
    init = next(a for a in na if a["kind"] == "init")
    data = next(a for a in na if a["kind"] == "data")
    assert init["train_config"]["data_seed"] == 0 and init["train_config"]["seed"] == 1
    assert data["train_config"]["data_seed"] == 1 and data["train_config"]["seed"] == 0
    # answers
    assert set(s["spearman"]) == set(PREDICTORS)
    assert {"kappa_given_gap", "gap_given_kappa"} <= set(s["partial"])
    assert set(s["signs_where_they_disagree"]) == {"kappa", "accuracy_gap"}
    for f in ("separation.json", "separation.md", "candidates.json", "predictors.json"):
        assert (out / f).stat().st_size > 0
    # every pair of teachers is either a candidate or recorded as dropped, with its reason
    cj = json.loads((out / "candidates.json").read_text())
    n_teachers = len(cj["accuracy"])  # the student is a teacher too
    assert len(cj["candidates"]) + len(cj["dropped"]) == n_teachers * (n_teachers - 1) // 2
    assert all(d["reason"] for d in cj["dropped"])
    # κ re-estimated on the validation items, for every registered pair
    assert set(s["kappa_validation"]) == set(pairs)
    for v in s["kappa_validation"].values():
        assert v["kappa"] is None and v["reason"] or len(v["kappa_ci95"]) == 2
    assert "validation items" in (out / "separation.md").read_text()
    assert not list(out.glob("arms/*/model")), "trained weights are kept in memory only"
    # a rerun trains nothing and gives the same summary
    msgs2 = []
    s2 = run(cfg, out, progress=msgs2.append)
    assert not any("noise arm" in m or ": dpo on" in m or ": sft on" in m for m in msgs2)
    assert s2["pairs"] == s["pairs"] and s2["complete"]
    # --report summarises finished arms only: the same answers, nothing trained; with an arm
    # removed it says the study is partial
    rep = run(cfg, out, progress=msgs2.append, report_only=True)
    assert rep["pairs"] == s["pairs"] and rep["complete"]
    # --seeds N: the first N registered DPO seeds (here all); out of range, one line
    rep = run(cfg, out, progress=lambda m: None, report_only=True, max_seeds=2)
    assert rep["complete"] and rep["dpo_seeds_run"] == rep["dpo_seeds_registered"] == [0, 1]
    assert "stopped by time" not in (out / "separation.md").read_text()
    for bad, msg in ((3, "more than the registered setting's 2 DPO seeds"),
                     (1, "at least 2"), (True, "at least 2")):
        with pytest.raises(DeltaTheoryError, match=msg):
            run(cfg, out, progress=lambda m: None, report_only=True, max_seeds=bad)
    import shutil
    # a report reads the planned arms only: an arm folder of an unplanned seed is not counted
    src = next(a for a in s["arms"] if a["kind"] == "dpo" and a["seed"] == 1)
    stray = out / "arms" / src["arm"].replace(".s1", ".s2")
    shutil.copytree(out / "arms" / src["arm"], stray)
    m = json.loads((stray / "metrics.json").read_text())
    (stray / "metrics.json").write_text(json.dumps({**m, "arm": stray.name, "seed": 2}))
    rep = run(cfg, out, progress=lambda m: None, report_only=True, max_seeds=2)
    assert [p["dpo_seeds"] for p in rep["pairs"]] == [[0, 1]] * len(pairs)
    assert rep["arms_finished"] == rep["arms_planned"] == len(s["arms"])
    shutil.rmtree(stray)
    last = s["arms"][-1]
    shutil.rmtree(out / "arms" / last["arm"])
    rep = run(cfg, out, progress=lambda m: None, report_only=True)
    assert not rep["complete"] and rep["arms_finished"] == rep["arms_planned"] - 1
    assert not (out / "arms" / last["arm"]).exists()
    assert "Partial" in (out / "separation.md").read_text()
    # a missing pre-registration is never rewritten once study arms have finished
    (out / "preregistration.json").unlink()
    with pytest.raises(DeltaTheoryError, match="finished study arms"):
        run(cfg, out, progress=lambda m: None)
    assert not (out / "preregistration.json").exists()


def test_preregistration_is_written_then_enforced(tiny_dir, tmp_path, monkeypatch):
    """Outside --quick the first run writes the pre-registration and trains nothing; the next
    run checks it, and refuses a file whose pairs or predictions differ."""
    from deltatheory.llm.studies import separation

    cfg = _tiny_cfg(tiny_dir, tmp_path)
    cfg = separation.dataclasses.replace(cfg, quick_mode=False)
    reg_path = Path(cfg.preregistration)
    trained = []
    real = separation.study_arm
    monkeypatch.setattr(separation, "study_arm", lambda *a, **k: trained.append(1) or real(*a, **k))
    res = separation.run(cfg, tmp_path / "run", progress=lambda m: None)
    assert res["preregistered"] == str(reg_path) and reg_path.exists() and not trained
    good = reg_path.read_text()
    reg = json.loads(good)
    # a changed prediction
    reg["pairs"][0]["kappa"] += 0.01
    reg["pairs"][1]["ches"] *= 1 + 1e-9  # a float-level difference alone is not a change
    reg_path.write_text(json.dumps(reg))
    with pytest.raises(DeltaTheoryError, match="predictions for .* differ"):
        separation.run(cfg, tmp_path / "run", progress=lambda m: None)
    # other pairs
    reg = json.loads(good)
    reg["pairs"] = reg["pairs"][::-1]
    reg_path.write_text(json.dumps(reg))
    with pytest.raises(DeltaTheoryError, match="lists the pairs"):
        separation.run(cfg, tmp_path / "run", progress=lambda m: None)
    # another configuration
    reg = json.loads(good)
    reg["config_hash"] = "0" * 16
    reg_path.write_text(json.dumps(reg))
    with pytest.raises(DeltaTheoryError, match="config_hash"):
        separation.run(cfg, tmp_path / "run", progress=lambda m: None)
    assert not trained and not list((tmp_path / "run" / "arms").glob("*.dpo.*"))
    reg_path.write_text("[1, 2]")
    with pytest.raises(DeltaTheoryError, match="not a JSON object"):
        separation.run(cfg, tmp_path / "run", progress=lambda m: None)
    # --report on a folder that is no run: one line, before any work
    with pytest.raises(DeltaTheoryError, match="not a run folder"):
        separation.run(cfg, tmp_path / "elsewhere", progress=lambda m: None, report_only=True)
    assert not (tmp_path / "elsewhere").exists()
    # --report before any pre-registration: one line, exit 2
    reg_path.unlink()
    with pytest.raises(DeltaTheoryError, match="no pre-registration"):
        separation.run(cfg, tmp_path / "run", progress=lambda m: None, report_only=True)


def test_a_study_stopped_after_some_seeds_says_so():
    """With --seeds N below the registered count the plan ends after seed N (seed-major
    order, reversed controls included) and the summary's Markdown names the stop."""
    from deltatheory.llm.studies.separation import arms, markdown

    pairs = [{"pair": f"p{i}", "chosen": "a", "rejected": "b", "reversed_control": i == 0}
             for i in range(3)]
    full, four = arms(None, pairs, [0, 1, 2, 3, 4, 5]), arms(None, pairs, [0, 1, 2, 3])
    assert full[:len(four)] == four and {a["seed"] for a in four if a["kind"] == "dpo"} == {
        0, 1, 2, 3}
    assert sum(a["kind"] == "reversed" for a in four) == 1
    text = markdown({"complete": True, "dpo_seeds_registered": [0, 1, 2, 3, 4, 5],
                     "dpo_seeds_run": [0, 1, 2, 3], "accuracy": {}, "pairs": []})
    assert "DPO seeds: the first 4 of the 6 registered (0, 1, 2, 3; stopped by time" in text


def test_analysis_answers_from_pair_records():
    """analyse() needs the pair records only: a partial correlation near 0 when the gain
    follows the gap and κ only through it, and sign counts on the disagreeing pairs."""
    from deltatheory.llm.studies.separation import analyse

    rng = np.random.default_rng(1)
    pairs = []
    chosen = ["a", "b", "c", "d"]  # every chosen teacher is shared by many pairs
    n = 200  # the partial correlation's sampling sd is about 1/sqrt(n - 3) = 0.07
    for i in range(n):
        gap = float(rng.uniform(0, 0.3))
        kappa = float(gap + rng.normal(0, 0.1))
        gain = 0.3 * gap + float(rng.normal(0, 0.02))
        per = [gain + 0.003, gain - 0.003]
        pairs.append({"pair": f"p{i}", "chosen": chosen[i % 4], "kappa": kappa,
                      "accuracy_gap": gap, "opposite_signs": kappa < 0,
                      "families": ["m", "m"] if i < n // 2 else ["m", "other"],
                      "disagree": kappa < 0, "dpo_gain": gain, "dpo_gain_per_seed": per,
                      "dpo_gain_ci95": [gain - 0.01, gain + 0.01],
                      "dpo_gain_se": 0.005, "dpo_gain_df": 10.0,
                      # weaker chosen teachers (odd i): SFT on all their answers hurts
                      "chosen_minus_student": -0.05 if i % 2 else 0.05,
                      "sft_all_gain": -0.05 if i % 2 else 0.02,
                      "sft_all_gain_ci95": [-0.06, -0.04] if i % 2 else [0.01, 0.03],
                      "sft_all_minus_dpo_items_var": 1e-5})
    pairs[-1]["dpo_gain_se"], pairs[-1]["dpo_gain_df"] = 0.5, 2.0  # one gain known to ±1.4
    pairs[-1].pop("sft_all_minus_dpo_items_var")  # no paired variance: no amended interval
    pairs[-1]["dpo_gain_ci95"] = [pairs[-1]["dpo_gain"] - 1.4, pairs[-1]["dpo_gain"] + 1.4]
    s = analyse({"config": {"items": {"test": 2000}, "bootstrap": 500, "seed": 0,
                            "student": "m"}, "pairs": pairs})
    assert s["spearman"]["accuracy_gap"]["rho"] > 0.7
    assert abs(s["partial"]["kappa_given_gap"]["rho"]) < 3.5 / np.sqrt(n - 3)
    assert s["partial"]["gap_given_kappa"]["rho"] > 0.5
    d = s["signs_where_they_disagree"]
    dis = [p for p in pairs if p["disagree"]]
    assert d["kappa"]["n"] == len(dis) > 0
    for key in ("kappa", "accuracy_gap"):
        assert d[key]["right"] == sum(np.sign(p[key]) == np.sign(p["dpo_gain"]) != 0
                                      for p in dis)
    opp = [p for p in dis if p["opposite_signs"]]
    assert s["signs_where_they_disagree_opposite"]["kappa"]["n"] == len(opp) > 0
    t = s["sign_test"]["disagree"]  # κ < 0 < gap on these pairs: exactly one is right
    assert (t["a_only"], t["b_only"]) == (sum(p["dpo_gain"] < 0 for p in dis),
                                          sum(p["dpo_gain"] > 0 for p in dis))
    assert t["a_only"] + t["b_only"] == len(dis) and t["p_exact"] < 0.05
    # H3: the last pair (weaker chosen, odd i) lacks the paired item variance: no amended
    # interval, and it is left out of the counts rather than given an unpaired one
    assert "sft_all_minus_dpo_ci95" not in pairs[-1] and "sft_all_minus_dpo" in pairs[-1]
    weaker = [p for p in pairs[:-1] if p["chosen_minus_student"] < 0]
    c = s["sft_all_contrast"]
    assert c["n"] == len(weaker) == n // 2 - 1 and c["sft_all_hurts"] == len(weaker)
    p = weaker[0]  # the amended interval: paired items, SFT-all's seed, the DPO seeds' mean
    from deltatheory.stats import welch_ci
    sv = s["seed_variance"]
    assert p["sft_all_minus_dpo_ci95"] == pytest.approx(welch_ci(
        p["sft_all_gain"] - p["dpo_gain"], [(1e-5, 1999), (sv["variance"], sv["df"]),
                                            (np.var(p["dpo_gain_per_seed"], ddof=1) / 2, 1)]))
    below = [q["sft_all_minus_dpo_ci95"][1] < 0 for q in weaker]
    helps = [q["dpo_gain_ci95"][0] > 0 for q in weaker]
    assert c["sft_all_below_dpo"] == sum(below) > 0
    assert c["all_three"] == sum(b and h for b, h in zip(below, helps, strict=True)) > 0
    assert c["n_chosen"] == 2 and set(c["sft_all_runs"]) == {"b", "d"}  # odd i: b and d
    assert c["sft_all_hurts_chosen"] == 2
    assert s["median_half_width"] == pytest.approx(0.01)  # the table's intervals, ±0.01
    assert len(s["seed_variance"]["pairs"]) == n
    # the redraw uses each gain's se: one gain known to ±1.4 widens nothing over pairs alone,
    # so make every gain that uncertain and the noisy interval must widen
    wide = [{**q, "dpo_gain_se": 0.5, "dpo_gain_df": 2.0} for q in pairs]
    w = analyse({"config": {"items": {"test": 2000}, "bootstrap": 500, "seed": 0,
                            "student": "m"}, "pairs": wide})["spearman"]["accuracy_gap"]
    assert w["rho"] == s["spearman"]["accuracy_gap"]["rho"]
    assert w["ci95"][0] < w["ci95_pairs_only"][0] - 0.3
    t = s["transfer"]["own_to_other_family"]["accuracy_gap"]
    assert t["n_fit"] == t["n_test"] == n // 2 and t["mae"] < t["mae_mean_rule"]
    assert s["transfer"]["sizes"] == {"own": n // 2, "other_family": n // 2, "constructed": 0}
    assert s["transfer"]["constructed_to_other_family"]["kappa"] is None  # nothing to fit on


def test_second_student_config_loads():
    """The Gemma student's study: a base model (plain transcripts), its own pruned copies and
    the other family's models as teachers."""
    from deltatheory.llm.studies import separation

    cfg = separation.load_config(SHIPPED.parent / "separation_gemma.yaml")
    assert cfg.student == "gemma3-270m" and cfg.select.n_pairs >= 8 and len(cfg.seeds) >= 2
    fams = [separation.family(n, cfg) for n in separation.teacher_names(cfg)]
    assert fams.count("gemma3-270m") >= 3 and fams.count("smollm2-135m-instruct") >= 3
    assert cfg.preregistration != separation.load_config(SHIPPED).preregistration


def test_aggregate_gives_each_pair_its_own_arms_numbers():
    """aggregate(): a pair's DPO gain is the mean over its seeds (each seed's gain kept), its
    interval the seeds-and-items one; the SFT-all − DPO item variance is paired (SFT-all's
    correctness minus the DPO seeds' mean, per item); another pair's arms are not mixed in."""
    from types import SimpleNamespace

    from deltatheory.llm.studies.separation import aggregate

    from deltatheory.stats import seeds_items_ci

    rng = np.random.default_rng(3)
    n = 400
    before = (rng.random(n) < 0.6).astype(float)
    after = [(rng.random(n) < q).astype(float) for q in (0.7, 0.66, 0.8, 0.5)]

    def arm(pair, kind, seed, correct):
        return {"pair": pair, "kind": kind, "seed": seed, "correct_after": correct.tolist(),
                "observed_gain": float(correct.mean() - before.mean()),
                "observed_gain_ci95": [0.0, 0.1]}

    results = [arm("p", "dpo", 0, after[0]), arm("p", "dpo", 1, after[1]),
               arm("p", "sft-all", 0, after[2]), arm("q", "dpo", 0, after[3])]
    reg = {"pairs": [{"pair": "p"}, {"pair": "q"}]}
    p, q = aggregate(SimpleNamespace(bootstrap=200, seed=0), before, reg, results)
    g0, g1 = after[0].mean() - before.mean(), after[1].mean() - before.mean()
    assert p["dpo_seeds"] == [0, 1] and p["dpo_gain_per_seed"] == pytest.approx([g0, g1])
    assert p["dpo_gain"] == pytest.approx((g0 + g1) / 2)
    assert p["dpo_gain_ci95"] == pytest.approx(seeds_items_ci(before, after[:2]))
    assert p["sft_all_gain"] == pytest.approx(after[2].mean() - before.mean())
    d = after[2] - (after[0] + after[1]) / 2
    assert p["sft_all_minus_dpo_items_var"] == pytest.approx(d.var(ddof=1) / n)
    assert q["dpo_gain_per_seed"] == pytest.approx([after[3].mean() - before.mean()])
    assert q["dpo_gain_se"] is None and "sft_all_gain" not in q  # one seed: no seed spread


def test_markdown_reports_every_arm_kind_and_the_registered_answers():
    """The summary's Markdown fills a pair's SFT (chosen side) and reversed columns and prints
    H1's partial correlation, H2's sign counts with Wilson CIs and the exact test, H3's table
    with both intervals and the shared runs, the seed variance and the transfer table."""
    from deltatheory.llm.studies.separation import analyse, markdown

    rng = np.random.default_rng(4)
    pairs = []
    for i in range(12):
        gap, kappa = 0.02 * i, 0.03 * i - 0.1
        gain = 0.1 * gap + float(rng.normal(0, 0.01))
        pairs.append({
            "pair": f"c{i % 3}-over-r{i}", "chosen": f"c{i % 3}", "kappa": kappa,
            "kappa_ci95": [kappa - 0.05, kappa + 0.05], "accuracy_gap": gap,
            "families": ["m", "m"] if i < 4 else ["m", "other"] if i < 8 else ["m", "constructed"],
            "disagree": kappa < 0, "opposite_signs": kappa < 0, "dpo_gain": gain,
            "dpo_gain_per_seed": [gain + 0.004, gain - 0.004],
            "dpo_gain_ci95": [gain - 0.02, gain + 0.02], "dpo_gain_se": 0.01, "dpo_gain_df": 5.0,
            "chosen_minus_student": -0.04 if i % 3 == 0 else 0.02,
            "sft_all_gain": 0.031, "sft_all_gain_ci95": [0.02, 0.042],
            "sft_all_minus_dpo_items_var": 2e-5, "sft_gain": 0.0123,
            "sft_gain_ci95": [0.001, 0.023], **({"reversed_gain": -0.0456,
                                                 "reversed_gain_ci95": [-0.06, -0.03]}
                                                if i == 11 else {})})
    s = analyse({"config": {"items": {"test": 2000, "validation": 400}, "bootstrap": 200,
                            "seed": 0, "student": "m"}, "pairs": pairs,
                 "predictors": {"kappa": "κ (the bridge)"}, "accuracy": {}})
    text = markdown(s)
    row = next(line for line in text.splitlines() if line.startswith("| c2-over-r11 |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[6].startswith("+3.1 [") and cells[7].startswith("+1.2 [")  # SFT-all, SFT
    assert cells[9].startswith("-4.6 [")  # reversed
    assert "Partial rank correlation with the gain: κ given the gap " in text
    k = s["signs_where_they_disagree"]["kappa"]
    assert (f"κ (the bridge) has the gain's sign right on {k['right']} of {k['n']} pairs "
            f"({100 * k['share']:.0f} % [") in text
    t = s["sign_test"]["opposite"]
    assert f"only κ right on {t['a_only']}, only the gap on {t['b_only']}" in text
    c = s["sft_all_contrast"]
    assert c["n"] == 4 and "§5 contrast (H3), the 4 pairs" in text
    h3 = [line for line in text.splitlines() if line.startswith("| c0-over-r3 |")][-1]
    assert "c0-over-r0, c0-over-r6, c0-over-r9" in h3  # the pairs sharing its SFT-all run
    assert h3.count("[") == 4  # DPO, SFT-all, SFT-all − DPO amended, as registered
    assert "These 4 pairs have 1 distinct chosen teachers" in text
    assert "| other_family → constructed | κ (the bridge) | 4 / 4 |" in text
    assert "pooled over the 12 pairs with two or more seeds" in text
