import json

import pytest
from typer.testing import CliRunner

from deltatheory.cli import app

runner = CliRunner()
TRIPLE = ["--student-acc", "0.8", "--chosen-acc", "0.7", "--rejected-acc", "0.6"]


def run(*args):
    return runner.invoke(app, list(args))


def test_predict_json_keys():
    r = run("predict", *TRIPLE, "--dim", "100", "--json")
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)
    assert set(p) >= {"alpha", "signal", "noise", "kappa", "lambda_star", "best_accuracy",
                      "overtrain_accuracy", "p_c1"}
    assert set(p["alpha"]) == {"student", "chosen", "rejected"}
    assert p["kappa"] == pytest.approx(0.0963121, abs=1e-6)


def test_threshold_json():
    r = run("threshold", *TRIPLE, "--quantile", "0.9", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["d_min"] == 64


def test_simulate_json_and_out_file(tmp_path):
    out = tmp_path / "sim.json"
    r = run("simulate", *TRIPLE, "--dim", "50", "--steps", "5", "--trials", "20", "--json",
            "--out", str(out))
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)
    for key in ("initial_accuracy", "final_accuracy", "best_accuracy"):
        assert set(p[key]) == {"mean", "ci95"} and len(p[key]["ci95"]) == 2
    assert 0 <= p["improved_fraction"] <= 1
    saved = json.loads(out.read_text())
    assert saved["config"]["dim"] == 50 and "curve" in saved
    assert not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("args", [
    ["predict", "--student-acc", "1.2", "--chosen-acc", "0.7", "--rejected-acc", "0.6"],
    ["predict", *TRIPLE, "--overlap-chosen", "0.99", "--overlap-rejected", "-0.99"],
    ["predict", *TRIPLE, "--dim", "2"],
    ["threshold", "--student-acc", "0.8", "--chosen-acc", "0.6", "--rejected-acc", "0.7"],
    ["threshold", *TRIPLE, "--quantile", "1.5"],
    ["simulate", *TRIPLE, "--steps", "0"],
    ["simulate", *TRIPLE, "--batch", "0"],
    ["simulate", *TRIPLE, "--lr", "-1"],
    ["simulate", *TRIPLE, "--lr", "nan"],
    ["simulate", *TRIPLE, "--trials", "0"],
    ["simulate", *TRIPLE, "--dim", "2"],
    ["simulate", *TRIPLE, "--loss", "mse"],
    ["simulate", *TRIPLE, "--student-acc", "nan"],
    ["check", "corollary", "--chosen-acc", "0.6", "--rejected-acc", "0.7", "--quick"],
    ["check", "corollary", "--quantile", "2", "--quick"],
    ["check", "theorem", "--quick", "--out", "/proc/no-such-folder"],
    ["simulate", *TRIPLE, "--out", "/proc/no-such-folder/x.json"],
])
def test_bad_input_is_one_line_and_exit_2(args):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    msg = r.stderr.strip()
    assert msg and ("error" in msg.lower())


def test_our_errors_are_one_line():
    r = run("predict", "--student-acc", "1.2", "--chosen-acc", "0.7", "--rejected-acc", "0.6")
    assert r.stderr.strip().count("\n") == 0
    assert "1.2" in r.stderr and "(0.5, 1)" in r.stderr


def test_check_corollary_quick_json(tmp_path):
    r = run("check", "corollary", "--quick", "--json", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)
    assert p["d_min_exact"] == 64 and p["paper_claim"]["holds"]
    assert (tmp_path / "check_corollary.json").exists()


def test_help_everywhere():
    for cmd in ([], ["predict"], ["threshold"], ["simulate"], ["check"], ["check", "theorem"],
                ["check", "corollary"], ["check", "all"]):
        r = run(*cmd, "--help")
        assert r.exit_code == 0 and "Usage" in r.output
