"""lm-evaluation-harness in and out, on the tiny random model (the real SmolLM2 tokenizer and
chat template): the project's tasks written as lm-eval tasks, lm-eval's log-likelihoods held
against the project's choice scorer, its generations against the project's, its sample logs
read by the bridge, and the command line's refusals."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the llm extra is part of the quickstart install")
pytest.importorskip("lm_eval", reason="the harness extra (in dev) brings lm-eval")

from deltatheory.llm.harness import HarnessConfig, evaluate, sample_line  # noqa: E402
from deltatheory.llm.tasks import get_task  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from deltatheory.bridge import read_lm_eval_samples  # noqa: E402
from deltatheory.cli import app  # noqa: E402

runner = CliRunner()
# nothing reaches a hub: the project's tasks are local files (HF_HUB_OFFLINE: tests/conftest.py)
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def _samples(path):
    """{doc_id: sample} of a samples file."""
    lines = [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines()]
    return {s["doc_id"]: s for s in lines}


def _lm_eval_margins(samples):
    """log-likelihood of the first choice − the second's, by doc_id (lm-eval's responses, as
    its sample log writes them: strings)."""
    ids = sorted(samples)
    return np.array([float(samples[i]["filtered_resps"][0][0])
                     - float(samples[i]["filtered_resps"][1][0]) for i in ids])


def test_lm_eval_multiple_choice_agrees_with_the_project_scorer(tiny_dir, tmp_path):
    """Same items, same model, float32: lm-eval's multiple-choice log-likelihoods (the
    chat-templated prompt as context, the templated assistant turn as continuation) give the
    project's choice margins to float tolerance, hence every label and the accuracy; and the
    two command lines report the same accuracy."""
    from deltatheory.llm.choice import choice_margins
    from deltatheory.llm.models import load

    n = 64
    out = tmp_path / "lm"
    r = runner.invoke(app, ["llm", "eval", "--model", tiny_dir, "--harness", "lm-eval",
                            "--tasks", "addition-choice", "--n", str(n), "--out", str(out),
                            "--json"])
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert payload == json.loads((out / "eval.json").read_text())
    info = payload["tasks"]["addition-choice"]
    assert info["n"] == n and info["output_type"] == "multiple_choice"
    samples = _samples(info["samples"])
    rows = get_task("addition-choice").prompts("test", n, seed=0)
    assert [samples[i]["doc"]["id"] for i in sorted(samples)] == [r["id"] for r in rows]
    model, tok = load(tiny_dir)
    ours = choice_margins(model, tok, rows, progress=False)
    theirs = _lm_eval_margins(samples)
    diff = np.abs(theirs - ours)
    assert diff.max() < 1e-3, f"largest margin difference {diff.max():.2g} nats"
    assert np.abs(ours).min() > 10 * diff.max()  # so that no label is a near-tie
    np.testing.assert_array_equal(theirs > 0, ours > 0)
    truth = np.array([r["truth"] for r in rows])
    acc = float(np.mean((ours > 0) == (truth == 1)))
    assert info["metrics"]["acc,none"]["mean"] == pytest.approx(acc)
    assert [samples[i]["acc"] for i in sorted(samples)] == [
        float((m > 0) == (t == 1)) for m, t in zip(ours, truth, strict=True)]
    # the project's own command line on the same items: the same accuracy
    r = runner.invoke(app, ["llm", "eval", "--model", tiny_dir, "--task", "addition-choice",
                            "--n", str(n), "--out", str(tmp_path / "project"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["mean"] == pytest.approx(acc)
    # what the run folder keeps: lm-eval's results, the definitions and data it ran
    res = json.loads((out / "lm-eval" / "results.json").read_text())
    assert res["results"]["addition-choice"]["acc,none"] == pytest.approx(acc)
    assert (out / "lm-eval-tasks" / "addition-choice.yaml").exists()
    assert payload["config"]["n"] == n and payload["config"]["chat_template"] is True
    assert payload["versions"]["lm_eval"] == payload["lm_eval_version"]


def _varied_tiny(tmp_path, smol_tokenizer):
    """A tiny random model with large weights: greedy answers that vary (digits included),
    where the default initialisation answers every prompt with the same line breaks."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(3)
    cfg = LlamaConfig(vocab_size=len(smol_tokenizer), hidden_size=64, intermediate_size=128,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, tie_word_embeddings=True,
                      initializer_range=1.0, pad_token_id=smol_tokenizer.pad_token_id,
                      eos_token_id=smol_tokenizer.eos_token_id)
    d = tmp_path / "varied"
    LlamaForCausalLM(cfg).save_pretrained(d)
    smol_tokenizer.save_pretrained(d)
    return str(d)


def test_lm_eval_generation_agrees_with_the_project_generation(tmp_path, smol_tokenizer):
    """arithmetic as an lm-eval generation task: greedy, one prompt per batch on both sides,
    the same answers, and exact_match is the project's score (on answers with numbers: the
    next test)."""
    from deltatheory.llm.generate import GenerationConfig, generate

    model_dir = _varied_tiny(tmp_path, smol_tokenizer)
    n, tokens = 8, 12
    task = get_task("arithmetic")
    rows = task.prompts("test", n, seed=0)
    ours = generate(model_dir, rows, tmp_path / "gen",
                    GenerationConfig(max_new_tokens=tokens, batch_size=1), progress=False)
    payload = evaluate(model_dir, tmp_path / "lm",
                       HarnessConfig(tasks=("arithmetic",), n=n, batch_size=1,
                                     max_new_tokens=tokens))
    samples = _samples(payload["tasks"]["arithmetic"]["samples"])
    theirs = [samples[i]["resps"][0][0] for i in sorted(samples)]
    assert [a.strip() for a in theirs] == [ours[r["id"]] for r in rows]
    assert len({ours[r["id"]] for r in rows}) > 1  # answers that differ: a real comparison
    assert [samples[i]["exact_match"] for i in sorted(samples)] == [
        task.score(r, ours[r["id"]]) for r in rows]
    assert [samples[i]["filter"] for i in sorted(samples)] == ["last-integer"] * n


ANSWERS = ["17 + 25 = 42.", "42", "It is 42", "41", "41 or 42", "42, not 41", "no number", "",
           "-42", "1,042", "42,", "The sum of 17 and 25 is 42!\n\nDone.", "4 2", "042"]


def test_the_arithmetic_definition_scores_as_the_project_does():
    """The shipped arithmetic.yaml's filter (the last integer) and exact_match, as lm-eval
    applies them, give the project's score on answers with and without numbers. One known
    difference: a leading zero ("042"), which the project reads as 42."""
    import yaml
    from deltatheory.llm.harness_tasks import TEMPLATES
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters import build_filter_ensemble

    cfg = yaml.safe_load(TEMPLATES["arithmetic"].read_text())
    (flt,) = cfg["filter_list"]
    ensemble = build_filter_ensemble(flt["name"], [[f["function"], {
        k: v for k, v in f.items() if k != "function"}] for f in flt["filter"]])
    (metric,) = cfg["metric_list"]
    task, row = get_task("arithmetic"), {"answer": 42}
    for answer in ANSWERS:
        inst = type("I", (), {"resps": [answer], "doc": {}, "filtered_resps": {}})()
        ensemble.apply([inst])
        got = exact_match_hf_evaluate([inst.filtered_resps[flt["name"]]], ["42"],
                                      regexes_to_ignore=metric["regexes_to_ignore"])
        want = task.score(row, answer) if answer != "042" else 0.0
        assert got["exact_match"] == want, answer


def test_the_bridge_reads_what_the_project_measures(tiny_dir, tmp_path):
    """Student, chosen and rejected (a built rung and two derived rungs of the tiny model)
    evaluated through lm-eval; the bridge's labels from their sample logs are the project
    scorer's labels, and its result (or its refusal) is the one of the same labels as a
    table."""
    from deltatheory.llm.choice import choose
    from deltatheory.llm.models import load

    n = 48
    specs = {"student": tiny_dir, "chosen": f"{tiny_dir}@prune-0.3",
             "rejected": f"{tiny_dir}@prune-0.6"}
    files = {}
    for role, spec in specs.items():
        out = tmp_path / role
        r = runner.invoke(app, ["llm", "eval", "--model", spec, "--harness", "lm-eval",
                                "--tasks", "addition-choice", "--n", str(n), "--out", str(out)])
        assert r.exit_code == 0, r.output
        assert "addition-choice (n=48, lm-eval multiple_choice): acc" in r.stdout
        files[role] = out / "lm-eval" / "samples_addition-choice.jsonl"
    rows = get_task("addition-choice").prompts("test", n, seed=0)
    want = np.column_stack([[r["truth"] for r in rows]]
                           + [choose(*load(specs[role]), rows, progress=False)
                              for role in ("student", "chosen", "rejected")])
    labels, info = read_lm_eval_samples(files, truth_from_target=True)
    np.testing.assert_array_equal(labels, want)
    assert info["task"] == "addition-choice" and info["n_items"] == n
    table = tmp_path / "labels.csv"
    table.write_text("truth,student,chosen,rejected\n"
                     + "".join(",".join(map(str, row)) + "\n" for row in want))
    args = [a for role, p in files.items() for a in ("--lm-eval-samples", f"{role}={p}")]
    a = runner.invoke(app, ["bridge", *args, "--truth-from-target", "--json", "--bootstrap",
                            "200"])
    b = runner.invoke(app, ["bridge", "--predictions", str(table), "--json", "--bootstrap",
                            "200"])
    assert a.exit_code == b.exit_code, (a.output, b.output)
    if a.exit_code == 0:
        assert json.loads(a.stdout)["kappa"] == json.loads(b.stdout)["kappa"]
    else:  # the tiny model's labels can be unusable (e.g. not above chance): the same refusal
        assert a.stderr == b.stderr


@pytest.mark.slow  # lm-eval's command line indexes all of its own tasks first (~20 s)
def test_lm_evals_command_line_runs_the_written_tasks_and_the_bridge_reads_its_logs(
        tiny_dir, tmp_path):
    """The folder a run writes (lm-eval-tasks/) is a task folder for ``lm-eval run
    --include_path``, also after it was moved; the command line's own --log_samples file
    (samples_TASK_DATE.jsonl, in a folder named after the model) joins with this command's on
    every item, with the same labels."""
    import subprocess
    import sys

    n = 40
    ours = tmp_path / "ours"
    r = runner.invoke(app, ["llm", "eval", "--model", tiny_dir, "--harness", "lm-eval",
                            "--tasks", "addition-choice", "--n", str(n), "--out", str(ours)])
    assert r.exit_code == 0, r.output
    cli = tmp_path / "cli"
    moved = tmp_path / "elsewhere" / "tasks"  # a written task folder can be moved
    moved.parent.mkdir()
    (ours / "lm-eval-tasks").rename(moved)
    assert str(tmp_path) not in (moved / "addition-choice.yaml").read_text()
    subprocess.run([sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--model_args",
                    f"pretrained={tiny_dir},dtype=float32,add_bos_token=False", "--tasks",
                    "addition-choice", "--include_path", str(moved),
                    "--log_samples", "--output_path", str(cli), "--device", "cpu",
                    "--batch_size", "8"], check=True, capture_output=True, text=True,
                   cwd=tmp_path / "elsewhere",
                   env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    (logged,) = cli.rglob("samples_addition-choice_*.jsonl")
    mine = ours / "lm-eval" / "samples_addition-choice.jsonl"
    again = tmp_path / "again" / mine.name  # each role its own file (the same one is refused)
    again.parent.mkdir()
    again.write_bytes(mine.read_bytes())
    labels, info = read_lm_eval_samples({"student": logged, "chosen": mine, "rejected": again},
                                        truth_from_target=True)
    assert info["task"] == "addition-choice" and info["n_items"] == n
    np.testing.assert_array_equal(labels[:, 1], labels[:, 2])


def test_an_lm_eval_task_of_ones_own_from_include_path(tiny_dir, tmp_path):
    """Any lm-eval task folder (--include-path) runs by name, offline, with --n as lm-eval's
    limit; its samples are logged like the project's."""
    data = tmp_path / "tasks" / "yesno.jsonl"
    data.parent.mkdir()
    data.write_text("".join(json.dumps({"q": f"Is {i} even?", "gold": i % 2}) + "\n"
                            for i in range(20)))
    (data.parent / "yesno.yaml").write_text(
        "task: my-yesno\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {data}\ntest_split: test\noutput_type: multiple_choice\n"
        "doc_to_text: \"Question: {{q}}\\nAnswer:\"\ndoc_to_choice: [\"yes\", \"no\"]\n"
        "doc_to_target: gold\nmetric_list:\n  - metric: acc\n    aggregation: mean\n"
        "    higher_is_better: true\n")
    r = runner.invoke(app, ["llm", "eval", "--model", tiny_dir, "--harness", "lm-eval",
                            "--tasks", "my-yesno", "--include-path", str(data.parent),
                            "--n", "12", "--out", str(tmp_path / "out"), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)["tasks"]["my-yesno"]
    assert info["n"] == 12 and "definition" not in info
    assert len(_samples(info["samples"])) == 12


def test_samples_are_written_as_lm_eval_writes_them(tmp_path):
    """sample_line is the line lm-eval's own EvaluationTracker writes for --log_samples."""
    import copy
    from datetime import datetime

    from lm_eval.loggers import EvaluationTracker

    from deltatheory.bridge import _task_from_name

    raw = {"doc_id": 3, "doc": {"id": "test-3", "rendered_choices": ["a", "b"]}, "target": 1,
           "arguments": [("ctx", "a"), ("ctx", "b")],
           "resps": [[(-1.5, False)], [(-2.25, True)]],
           "filtered_resps": [(-1.5, False), (-2.25, True)], "filter": "none",
           "metrics": ["acc"], "doc_hash": "d", "prompt_hash": "p", "target_hash": "t",
           "acc": 0.0}
    tracker = EvaluationTracker(output_path=str(tmp_path))
    tracker.general_config_tracker.model_name_sanitized = "m"
    tracker.date_id = datetime.now().isoformat().replace(":", "-")  # as it names its files
    tracker.save_results_samples("addition-choice", [copy.deepcopy(raw)])
    (written,) = (tmp_path / "m").glob("samples_addition-choice_*.jsonl")
    assert sample_line(raw) == written.read_text()
    assert _task_from_name(written) == "addition-choice"  # the bridge reads the task off it


def test_cli_eval_harness_refuses_bad_input_in_one_line(tmp_path):
    """Every argument is checked before a model is loaded or a folder made."""
    out = tmp_path / "never"
    h = ["--harness", "lm-eval"]
    cases = [
        (["--harness", "helm", "--tasks", "x"], "--harness 'helm' is not one of"),
        (["--tasks", "addition-choice"], "--tasks is for --harness lm-eval"),
        (["--include-path", str(tmp_path)], "--include-path is for --harness lm-eval"),
        (h, "needs --tasks"),
        (h + ["--task", "addition-choice", "--tasks", "arithmetic"], "is the project harness's"),
        (h + ["--tasks", "bold-sections"], "'bold-sections' has no lm-eval definition"),
        (h + ["--tasks", "addition-choice,,arithmetic"], "separated by commas"),
        (h + ["--tasks", "arithmetic,arithmetic"], "names a task twice"),
        (h + ["--tasks", "addition-choice", "--n", "0"], "--n=0"),
        (h + ["--tasks", "addition-choice", "--batch-size", "0"], "--batch-size=0"),
        (h + ["--tasks", "addition-choice", "--max-new-tokens", "0"], "--max-new-tokens=0"),
        (h + ["--tasks", "addition-choice", "--dtype", "fp8"], "'fp8'"),
        (h + ["--tasks", "addition-choice", "--bootstrap", "5"], "--bootstrap 5"),
        (h + ["--tasks", "addition-choice", "--device", "tpu"], "--device 'tpu'"),
        (h + ["--tasks", "addition-choice", "--include-path", str(tmp_path / "none")],
         "is not a folder"),
    ]
    for args, match in cases:
        r = runner.invoke(app, ["llm", "eval", "--model", "smollm2-135m-instruct", *args,
                                "--out", str(out)])
        assert r.exit_code == 2, (args, r.output)
        assert match in r.stderr and r.stderr.strip().count("\n") == 0, (args, r.stderr)
    r = runner.invoke(app, ["llm", "eval", "--model", "m@prune-7", *h, "--tasks",
                            "addition-choice", "--out", str(out)])
    assert r.exit_code == 2 and "must be in [0, 1)" in r.stderr
    assert not out.exists(), "a refused command must not create its output folder"


def test_an_unknown_lm_eval_task_is_refused_before_anything_is_loaded(tmp_path):
    """A name that is neither the project's nor lm-eval's (nor in --include-path): one line,
    checked against lm-eval's task index before the model is loaded."""
    out = tmp_path / "never"
    r = runner.invoke(app, ["llm", "eval", "--model", "no/such-model", "--harness", "lm-eval",
                            "--tasks", "addition-choice,no-such-task-xyz", "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "lm-eval task 'no-such-task-xyz' is not known" in r.stderr
    assert r.stderr.strip().count("\n") == 0 and not out.exists()


def test_without_lm_eval_the_harness_says_what_to_install(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "lm_eval" else real(name, *a))
    r = runner.invoke(app, ["llm", "eval", "--model", "smollm2-135m-instruct", "--harness",
                            "lm-eval", "--tasks", "addition-choice", "--out",
                            str(tmp_path / "x")])
    assert r.exit_code == 2 and 'pip install -e ".[harness]"' in r.stderr
    assert not (tmp_path / "x").exists()


def test_the_companion_imports_no_lm_eval():
    """lm-eval is an optional extra: the llm companion (its command line included) loads it
    only for --harness lm-eval."""
    import subprocess
    import sys

    code = ("import sys; import deltatheory.cli, deltatheory.llm.cli, deltatheory.llm.harness, "
            "deltatheory.llm.harness_tasks; print('lm_eval' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
