"""The figure scripts, run in --quick mode once; the saved numbers (not pixels) are checked."""

import json
import os
import re
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import assert_within_se
from deltatheory.figures._common import STYLE, figure, label_panels, make
from typer.testing import CliRunner

import deltatheory as dt
from deltatheory import figures
from deltatheory.cli import app

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
        se = np.sqrt(c["p_c1"] * (1 - c["p_c1"]) / n)  # binomial SE at the exact p
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
            p, n = pt["p_c1_exact"], d["settings"]["monte_carlo_samples"]
            assert_within_se(pt["p_c1_monte_carlo"], p, np.sqrt(p * (1 - p) / n),
                             what=f"MC at d={pt['dim']}")
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


def _nearest(steps, t):
    return int(np.argmin(np.abs(np.asarray(steps, dtype=float) - t)))


def _arm_at(arm, i):
    """Mean accuracy of one arm at recorded index ``i`` and its standard error."""
    return arm["mean"][i], (arm["ci95_high"][i] - arm["ci95_low"][i]) / (2 * Z)


def _pref_one_step(geometry, dim, batch, step, lr, trials, seed):
    """Mean accuracy and SE of naive-preference SGD after ``step`` steps of ``batch`` fresh
    samples at step size ``lr``, computed independently as ONE step with batch·step samples and
    step size lr·step (exactly the same distribution: docs/theory.md)."""
    acc = dt.simulate(geometry, dim, loss="pref", steps=1, batch=batch * step, lr=lr * step,
                      engine="reduced", trials=trials, seed=seed).accuracy[:, -1]
    return acc.mean(), acc.std(ddof=1) / np.sqrt(trials)


def test_fig4_sweet_spot_overtraining_and_controls(saved):
    d = saved["fig4_training"]
    arms = {(a["loss"], a["control"]): a for a in d["arms"]}
    steps = np.array(d["steps"])
    pref = arms[("pref", "none")]
    t_star = d["sweet_spot_step"]
    # every comparison is at a step FIXED by the theory (recorded steps nearest λ*, λ*/2, 2λ*),
    # never at the argmax of the noisy mean curve (biased upward by the selection)
    i, i_half, i_twice = (_nearest(steps, t) for t in (t_star, t_star / 2, 2 * t_star))
    assert len({i, i_half, i_twice}) == 3 and 0 < i_half and i_twice < len(steps) - 1
    m, se = _arm_at(pref, i)
    assert m - d["student"] > 4 * se, "preference improves the student at λ*"
    # the unbiased comparison: the same n = B·t samples, expectation computed independently
    ref, ref_se = _pref_one_step(dt.Geometry(d["student"], d["chosen"], d["rejected"]), d["dim"],
                                 d["settings"]["batch"], int(steps[i]), d["lr"],
                                 trials=4 * d["settings"]["trials"], seed=2**20 + 4)
    assert_within_se(m, ref, np.hypot(se, ref_se), what=f"pref at step {steps[i]} vs one step")
    # a sweet spot: the curve at λ* is above the curve at λ*/2 and at 2λ* (combined SEs are
    # conservative here: the values at two steps of the same runs are positively correlated)
    for j in (i_half, i_twice):
        mj, sej = _arm_at(pref, j)
        assert m - mj > 4 * np.hypot(se, sej), f"step {steps[i]} vs step {steps[j]}"
    mf, sef = _arm_at(pref, -1)
    assert m - mf > 4 * np.hypot(se, sef), "over-training"
    rev = arms[("pref", "reversed")]
    assert rev["ci95_high"][-1] < d["student"]
    tied = arms[("pref", "tied")]
    assert np.all(np.array(tied["mean"]) == tied["mean"][0])
    for loss in ("dpo", "ipo"):  # same initial direction as the naive loss: they gain by λ* too
        mj, sej = _arm_at(arms[(loss, "none")], i)
        assert mj - d["student"] > 4 * sej, loss


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
    assert d["chosen_sweep"] and d["overlap_sweep"]
    rows = d["chosen_sweep"] + d["overlap_sweep"]
    for k, r in enumerate(rows):
        # naive-preference SGD at the recorded step nearest λ* (fixed by the theory, not the
        # argmax of the noisy curve) against its expectation at the same n, computed independently
        a = r["pref_at_lambda_star_sgd"]
        g = dt.Geometry(**r["geometry"])
        t_star = float(dt.steps_for_lambda(dt.predict(g).lambda_star, a["lr"]))
        assert abs(a["step"] - t_star) <= 0.5, "every step is recorded: the one nearest λ*"
        ref, ref_se = _pref_one_step(g, d["dim"], a["batch"], a["step"], a["lr"],
                                     trials=2 * d["settings"]["trials"], seed=2**20 + 60 + k)
        assert_within_se(a["mean"], ref, np.hypot(_se(a["ci95"]), ref_se),
                         what=f"pref SGD at step {a['step']}, row {k}")
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
    r = subprocess.run([sys.executable, "-m", "deltatheory.figures.fig5_heatmap", "--quick",
                        "--out", str(tmp_path)], capture_output=True, text=True, env=env,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fig5_heatmap.json").exists()
    r = subprocess.run([sys.executable, "-m", "deltatheory.figures.fig5_heatmap", "--seed", "-1"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 2 and "--seed=-1" in r.stderr


def test_fig8_ladder_study_data_is_consistent(saved):
    """The shipped ladder study: its summary numbers follow from its own arms."""
    from deltatheory.stats import spearman_ci

    d = saved["fig8_ladder_study"]
    cfg = d["config"]
    arms = {a["arm"]: a for a in d["arms"]}
    budget = {"steps": cfg["train"]["max_steps"], "batch_size": cfg["train"]["batch_size"],
              "updates": cfg["train"]["max_steps"] * cfg["train"]["batch_size"]
              * cfg["train"]["grad_accum"]}
    assert all(a["budget"] == budget for a in arms.values())  # every arm, the same budget
    start = {a["curve"][0]["accuracy"] for a in arms.values()}
    assert len(start) == 1  # every curve starts at the untrained student
    for p in d["pairs"]:
        seeds = [arms[f"{p['pair']}.dpo.s{k}"]["observed_gain"] for k in cfg["seeds"]]
        # the gain of the seed-averaged correctness is the mean of the seeds' gains
        assert p["dpo_gain"] == pytest.approx(np.mean(seeds))
        assert p["dpo_gain_per_seed"] == pytest.approx(seeds)
        lo, hi = p["dpo_gain_ci95"]  # over seeds and items (a t interval: symmetric)
        ilo, ihi = p["dpo_gain_items_ci95"]  # over items, given the seeds run
        assert lo <= p["dpo_gain"] <= hi and ilo <= p["dpo_gain"] <= ihi
        assert p["dpo_gain"] == pytest.approx((lo + hi) / 2)
        if max(seeds) - min(seeds) > ihi - ilo:  # seeds further apart than the items' CI
            assert hi - lo > ihi - ilo
        assert p["sft_gain"] == arms[f"{p['pair']}.sft"]["observed_gain"]
        if "sft_rejected_gain" in p:  # SFT on the rejected teacher's answers
            rej = arms[f"{p['pair']}.sft-rejected"]
            assert (rej["method"], rej["control"]) == ("sft", "reversed")
            assert p["sft_rejected_gain"] == rej["observed_gain"]
        assert p["reversed_gain"] == arms[f"{p['pair']}.reversed"]["observed_gain"]
        assert [c["step"] for c in p["curve"]][-1] == cfg["train"]["max_steps"]
    assert {p["pair"] for p in d["pairs"] if "sft_rejected_gain" in p} == set(cfg["sft_rejected"])
    assert len(cfg["sft_rejected"]) == 3  # the shipped study's three
    scored = [p for p in d["pairs"] if p.get("bridge")]
    rho = spearman_ci([p["bridge"]["kappa"] for p in scored], [p["dpo_gain"] for p in scored],
                      cfg["bootstrap"], cfg["seed"])
    assert rho.rho == pytest.approx(d["spearman"]["kappa"]["rho"])
    assert d["spearman"]["kappa"]["ci95_pairs_only"] == pytest.approx(rho.ci95)
    # the headline interval also redraws each pair's gain within its seeds-and-items error
    noisy = spearman_ci([p["bridge"]["kappa"] for p in scored], [p["dpo_gain"] for p in scored],
                        cfg["bootstrap"], cfg["seed"], y_se=[p["dpo_gain_se"] for p in scored],
                        y_df=[p["dpo_gain_df"] for p in scored])
    assert d["spearman"]["kappa"]["ci95"] == pytest.approx(noisy.ci95)
    assert noisy.ci95[0] < rho.ci95[0]  # counting the gains' own noise widens it
    for p in scored:  # the one-seed arms' CIs carry the DPO arms' pooled seed variance
        ilo, ihi = p["sft_gain_ci95"]
        lo, hi = p["sft_gain_seed_ci95"]
        assert lo < ilo and hi > ihi and p["sft_gain"] == pytest.approx((lo + hi) / 2)
    assert d["settings"]["command"].startswith("deltatheory llm ladder")


def test_fig9_separation_study_data_is_consistent(saved):
    """The shipped separation study (partial until every arm has run): its pair records follow
    from its own arms, and its pairs are the pre-registered ones, in the registered order."""
    from pathlib import Path

    d = saved["fig9_separation_study"]
    reg = json.loads((Path(__file__).parents[1] / "experiments/results/separation"
                      / "preregistration.json").read_text())
    assert [p["pair"] for p in d["pairs"]] == [p["pair"] for p in reg["pairs"]]
    for p, r in zip(d["pairs"], reg["pairs"], strict=True):
        assert p["kappa"] == pytest.approx(r["kappa"], rel=1e-4)
        assert p["group"] in ("own", "other_family", "constructed")
    study = [a for a in d["arms"] if not a["arm"].startswith("noise.")]
    assert d["arms_finished"] == len(study) and d["complete"] == (len(study) == d["arms_planned"])
    for p in d["pairs"]:
        dpo = sorted((a for a in study if a["pair"] == p["pair"] and a["kind"] == "dpo"),
                     key=lambda a: a["seed"])
        if not dpo:
            assert p.get("dpo_gain") is None
            continue
        seeds = [a["observed_gain"] for a in dpo]
        assert p["dpo_gain_per_seed"] == pytest.approx(seeds)
        assert p["dpo_gain"] == pytest.approx(np.mean(seeds))
        for a in study:
            if a["pair"] == p["pair"] and a["kind"] in ("sft-all", "sft", "reversed"):
                assert p[a["kind"].replace("-", "_") + "_gain"] == a["observed_gain"]
    assert set(d["kappa_validation"]) == {p["pair"] for p in d["pairs"]}
    assert d["settings"]["command"].startswith("deltatheory llm separation")


# ---- layout: the panel labels "(a)", "(b)" written by label_panels must not sit on other text

PANEL_LABEL = re.compile(r"^\([a-z]\)$")
SINGLE_PANEL = {"fig2_corollary", "fig3_kappa_law"}  # no panel labels to check


def _drawn_ticklabels(axis, i):
    """Tick labels inside the view interval (the ones drawn; matplotlib keeps others around)."""
    lo, hi = sorted(axis.get_view_interval())
    tol = 1e-9 * (hi - lo)
    return [t for t in axis.get_ticklabels(which="both")
            if lo - tol <= t.get_position()[i] <= hi + tol]


def _texts(fig):
    out = list(fig.texts)
    for ax in fig.axes:
        out += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label,
                ax.xaxis.offsetText, ax.yaxis.offsetText, *ax.texts,
                *_drawn_ticklabels(ax.xaxis, 0), *_drawn_ticklabels(ax.yaxis, 1)]
        if ax.get_legend() is not None:
            out += [ax.get_legend().get_title(), *ax.get_legend().get_texts()]
    return [t for t in out if t.get_visible() and t.get_text().strip()]


def _label_collisions(fig):
    """(panel labels, [(label, other text)] whose rendered bounding boxes overlap)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = _texts(fig)
    labels = [t for t in texts if PANEL_LABEL.match(t.get_text().strip())]
    hits = [(lab.get_text(), t.get_text()) for lab in labels for t in texts
            if t is not lab and lab.get_window_extent(renderer).overlaps(
                t.get_window_extent(renderer))]
    return [lab.get_text() for lab in labels], hits


def test_label_collision_check_can_fail():
    """The check itself: a long right-aligned title over a labelled panel is caught."""
    with plt.rc_context(STYLE):
        fig, (ax1, ax2) = figure(rows=2, height=2.2)  # figure 4's old panel (b), no curves
        for ax in (ax1, ax2):
            ax.set_ylim(79.6, 80.5)
            ax.set_ylabel("student accuracy (%)")
        ax2.set_title("zoom · dotted: λ* reached · dashed: best on the ray", loc="right")
        label_panels((ax1, ax2))
        try:
            labels, hits = _label_collisions(fig)
        finally:
            plt.close(fig)
    assert labels == ["(a)", "(b)"]
    assert ("(b)", "zoom · dotted: λ* reached · dashed: best on the ray") in hits


@pytest.mark.parametrize("name", figures.FIGURES)
def test_panel_labels_clear_of_other_text(saved, name):
    with plt.rc_context(STYLE):
        fig = figures.load(name).plot(saved[name])
        try:
            labels, hits = _label_collisions(fig)
        finally:
            plt.close(fig)
    if name in SINGLE_PANEL:
        assert labels == []
    else:
        assert len(labels) >= 2, labels
    assert not hits, f"{name}: panel label overlaps {hits}"
