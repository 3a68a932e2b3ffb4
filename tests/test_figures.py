"""The figure scripts, run in --quick mode once; the saved numbers (not pixels) are checked."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_within_se
from typer.testing import CliRunner

import deltatheory as dt
from deltatheory import figures
from deltatheory.cli import app
from deltatheory.figures._common import make

Z = 1.959963984540054


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every figure made once in quick mode; returns the JSON each wrote, by name."""
    out = tmp_path_factory.mktemp("figures")
    data = {}
    for name in figures.FIGURES:
        make(figures.load(name), out, quick=True, seed=0)
        for ext in ("png", "pdf", "json"):
            assert (out / f"{name}.{ext}").stat().st_size > 0, (name, ext)
        data[name] = json.loads((out / f"{name}.json").read_text())
    assert not list(out.glob(".*")), "temporary files left behind"
    return data


def _se(ci):
    return (ci[1] - ci[0]) / (2 * Z)


def test_every_figure_records_its_settings(saved):
    for name, d in saved.items():
        assert d["figure"] == name
        assert d["settings"]["quick"] is True and d["settings"]["seed"] == 0
        assert d["deltatheory_version"] == dt.__version__


def test_fig1_ray_limit_and_finite_d(saved):
    d = saved["fig1_ray"]
    lim = d["limit"]
    g = dt.Geometry(d["student"], d["chosen"], d["rejected"])
    p = dt.predict(g)
    assert lim["zoom"][0] == pytest.approx(d["student"], abs=1e-12)
    assert max(lim["zoom"]) <= lim["best_accuracy"] + 1e-12
    assert max(lim["zoom"]) == pytest.approx(float(p.best_accuracy), abs=2e-5)
    assert lim["wide"][-1] == pytest.approx(lim["overtrain_accuracy"], abs=1e-3)
    assert lim["overtrain_accuracy"] < d["student"] < lim["best_accuracy"]
    # the band over random error directions shrinks as d grows (like 1/√d) around the limit
    width = [np.subtract(c["zoom"]["q90"], c["zoom"]["q10"])[-1] for c in d["finite_d"]]
    assert width == sorted(width, reverse=True), width
    for c in d["finite_d"]:
        assert np.all(np.array(c["zoom"]["q10"]) <= np.array(lim["zoom"]) + 1e-12)
        assert np.all(np.array(lim["zoom"]) <= np.array(c["zoom"]["q90"]) + 1e-12)
    # the fraction of draws with κ > 0 is a Monte Carlo estimate of the exact P[C1]
    n = d["settings"]["overlap_draws"]
    for c in d["finite_d"]:
        se = max(np.sqrt(c["p_c1"] * (1 - c["p_c1"]) / n), 1 / n)
        assert_within_se(c["fraction_kappa_positive"], c["p_c1"], se, what=f"d={c['dim']}")


def test_fig2_corollary_curves_and_points(saved):
    d = saved["fig2_corollary"]
    dims = np.array(d["dims"])
    for t in d["triples"]:
        exact = np.array(t["exact"])
        big = dims >= 10
        assert np.all(np.diff(exact[big]) >= -1e-12), "P[C1] must grow with d"
        assert exact[-1] > 0.99
        gauss = np.array(t["gaussian"])
        assert np.max(np.abs(gauss - exact)[dims >= 100]) < 0.01
        for pt in t["points"]:
            assert_within_se(pt["p_c1_monte_carlo"], pt["p_c1_exact"],
                             max(pt["p_c1_monte_carlo_se"], 1e-4), what=f"MC at d={pt['dim']}")
        assert dt.p_c1_exact(t["student"], t["chosen"], t["rejected"], t["d_min_exact"]) >= 0.9
        assert t["p_c1_at_paper_dim"] >= 0.9
    first = d["triples"][0]
    assert (first["student"], first["chosen"], first["rejected"]) == (0.8, 0.7, 0.6)
    assert first["d_min_exact"] == 64


def test_fig3_measured_best_gain_matches_closed_form(saved):
    d = saved["fig3_kappa_law"]
    rows = d["configs"]
    assert len(rows) == d["settings"]["configs"]
    assert all(r["kappa"] > d["settings"]["kappa_floor"] for r in rows)
    for r in rows:
        assert_within_se(r["measured_best_gain"], r["predicted_best_gain"],
                         _se(r["measured_best_gain_ci95"]), what=f"kappa={r['kappa']:.4f}")
        assert r["predicted_best_gain"] == pytest.approx(float(dt.predict(dt.Geometry(
            r["student"], r["chosen"], r["rejected"], *r["overlaps"])).best_gain), rel=1e-12)


def test_fig4_sweet_spot_overtraining_and_controls(saved):
    d = saved["fig4_training"]
    arms = {(a["loss"], a["control"]): a for a in d["arms"]}
    steps = np.array(d["steps"])
    pref = arms[("pref", "none")]
    s = pref["summary"]
    assert s["best_accuracy"]["ci95"][0] > d["student"], "preference improves the student"
    assert s["final_accuracy"]["ci95"][1] < s["best_accuracy"]["ci95"][0], "over-training"
    spacing = steps[1] - steps[0]
    assert abs(s["best_step"] - d["sweet_spot_step"]) <= 2 * spacing
    assert_within_se(s["best_accuracy"]["mean"], d["best_accuracy_limit"],
                     _se(s["best_accuracy"]["ci95"]), k=5, what="pref best vs f(λ*)")
    rev = arms[("pref", "reversed")]
    assert rev["ci95_high"][-1] < d["student"]
    tied = arms[("pref", "tied")]
    assert np.all(np.array(tied["mean"]) == tied["mean"][0])
    for loss in ("dpo", "ipo"):
        assert arms[(loss, "none")]["summary"]["best_accuracy"]["ci95"][0] > d["student"]


def test_fig5_kappa_sign_and_boundaries(saved):
    d = saved["fig5_heatmap"]
    axis = np.array(d["axis"])
    chosen, rejected = np.meshgrid(axis, axis, indexing="xy")
    kap = np.array(d["kappa"])
    gain = np.array(d["best_gain"])
    assert np.all((kap > 0) == (chosen > rejected))
    assert np.all(gain[chosen > rejected] > 0) and np.all(gain[chosen <= rejected] == 0)
    i, j = 3, 11
    g = dt.Geometry(d["student"], chosen[i, j], rejected[i, j])
    assert kap[i, j] == pytest.approx(float(dt.kappa(g)), rel=1e-12)
    dims = sorted(int(k) for k in d["p_c1"])
    upper = chosen > rejected
    for lo, hi in zip(dims, dims[1:], strict=False):
        assert np.all(np.array(d["p_c1"][str(hi)])[upper] >= np.array(d["p_c1"][str(lo)])[upper])
    # the 90 % region grows with d: more of the upper triangle qualifies
    sizes = [(np.array(d["p_c1"][str(k)]) >= d["level"]).sum() for k in dims]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_fig6_pair_helps_where_sft_stops(saved):
    d = saved["fig6_pref_vs_sft"]
    for r in d["chosen_sweep"] + d["overlap_sweep"]:
        assert_within_se(r["pref_best_sgd"]["mean"], r["pref_best_closed_form"],
                         max(_se(r["pref_best_sgd"]["ci95"]), 1e-6), k=5, what="pref SGD")
        assert r["pref_best_closed_form"] > d["student"]
    # orthogonal errors: SFT on the chosen labels helps too in this model
    assert all(r["sft_best_sgd"]["ci95"][0] > d["student"] for r in d["chosen_sweep"])
    # teachers sharing the student's errors: the pair gains more, SFT stops helping
    ov = d["overlap_sweep"]
    pref = [r["pref_best_closed_form"] for r in ov]
    assert pref == sorted(pref)
    # the best point is the start; the engine runs in float32, hence the 1e-6
    assert ov[-1]["sft_best_step"] == 0 and ov[-1]["sft_best_sgd"]["mean"] == pytest.approx(
        d["student"], abs=1e-6)


def test_cli_figures_only_json(tmp_path):
    r = CliRunner().invoke(app, ["figures", "--quick", "--only", "fig5_heatmap", "--out",
                                 str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)
    assert list(p["figures"]) == ["fig5_heatmap"]
    assert (tmp_path / "fig5_heatmap.pdf").exists()


def test_cli_figures_bad_name_and_unwritable_out(tmp_path):
    r = CliRunner().invoke(app, ["figures", "--only", "fig9", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "fig9" in r.output and "fig1_ray" in r.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = CliRunner().invoke(app, ["figures", "--quick", "--out", str(blocker / "sub")])
    assert r.exit_code == 2 and "cannot be written" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_script_runs_standalone(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    r = subprocess.run([sys.executable, "-m", "deltatheory.figures.fig5_heatmap", "--quick", "--out",
                        str(tmp_path)], capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fig5_heatmap.json").exists()
    r = subprocess.run([sys.executable, "-m", "deltatheory.figures.fig5_heatmap", "--seed", "-1"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 2 and "--seed=-1" in r.stderr


def test_fig7_ladder_data_is_consistent(saved):
    d = saved["fig7_ladder"]
    by = {(a["chosen"], a["rejected"]): a for a in d["arms"]}
    for (c, r), a in by.items():
        assert a["n_pairs"] == by[(r, c)]["n_pairs"]
        if a["bridge"]:  # swapping chosen and rejected flips κ exactly (v → −v)
            assert a["bridge"]["kappa"] == pytest.approx(-by[(r, c)]["bridge"]["kappa"])
    from deltatheory.llm.studies.ladder import spearman_ci

    ok = [a for a in d["arms"] if a["bridge"]]
    rho = spearman_ci([a["bridge"]["kappa"] for a in ok], [a["observed_gain"] for a in ok],
                      d["config"]["bootstrap"], d["config"]["seed"])
    assert rho["rho"] == pytest.approx(d["spearman"]["rho"])
    assert d["settings"]["command"].startswith("deltatheory llm ladder")
