"""The toolkit's verdict, in quick mode: every statement is a real assertion."""

import dataclasses

import numpy as np
import pytest

from deltatheory import check_corollary, check_theorem
from deltatheory.checks import Gain, verdict


@pytest.fixture(scope="module")
def theorem():
    return check_theorem(quick=True, seed=0)


def test_student_improves_exactly_when_c1_holds(theorem):
    for row in theorem.configs:
        assert row.improved == row.c1, row.name
        assert row.verdict == row.reversed_verdict == row.tied_verdict == "agrees", row.name
        assert row.tied_gain.mean == 0.0
        if not row.c1:  # C1 fails: the theory says the student gets worse, resolved by the CI
            assert row.measured_gain.ci95[1] < 0, row.name
    assert theorem.all_agree
    d = theorem.to_dict()
    assert all(r["agrees_with_theory"] and r["overall"] == "agrees" for r in d["configs"])


def test_verdict_needs_the_predicted_sign_resolved():
    assert verdict(-0.01, (-0.02, -0.001)) == "agrees"
    assert verdict(-0.01, (-0.02, 0.003)) == "unresolved"  # "not significantly positive" ≠ fall
    assert verdict(-0.01, (0.001, 0.02)) == "disagrees"
    assert verdict(0.0, (-0.01, 0.01)) == "agrees" and verdict(0.0, (0.01, 0.02)) == "disagrees"


def test_an_unresolved_configuration_is_not_counted_as_agreeing(theorem):
    row = theorem.configs[-1]  # C1 fails here
    blurred = dataclasses.replace(row, measured_gain=Gain(-0.001, (-0.01, 0.008), 0.4),
                                  verdict=verdict(row.predicted_gain_at_lambda, (-0.01, 0.008)))
    assert blurred.overall == "unresolved" and not blurred.to_dict()["agrees_with_theory"]
    check = dataclasses.replace(theorem, configs=(*theorem.configs[:-1], blurred))
    assert not check.all_agree


def test_sub_runs_draw_independent_streams(monkeypatch):
    """No two sub-runs share a stream, within a check or across the seeds of two checks
    (seed + 10·i + 1 made seed 0's reversed run seed 1's forward run)."""
    import deltatheory.checks as C

    used = []
    real = C.simulate

    def spy(*a, **k):
        used.append(k["seed"])
        return real(*a, **{**k, "trials": 20})

    monkeypatch.setattr(C, "simulate", spy)
    C.check_theorem(quick=True, seed=0)
    n0 = len(used)
    C.check_theorem(quick=True, seed=1)
    C.check_corollary(quick=True, dims=[5, 50], seed=0)
    assert len(set(used)) == len(used) and n0 > 10


def test_best_gain_scales_as_kappa_squared(theorem):
    e = theorem.exponent
    assert e["slope_closed_form"] == pytest.approx(2.0, abs=0.2)
    lo, hi = e["slope_measured_ci95"]
    assert lo <= e["slope_closed_form"] <= hi


def test_more_samples_per_dimension_help(theorem):
    rows = theorem.samples_per_dim["rows"]
    gains = [r["gain"]["mean"] for r in rows]
    ses = [(r["gain"]["ci95"][1] - r["gain"]["ci95"][0]) / (2 * 1.959963984540054) for r in rows]
    assert rows[0]["gain"]["ci95"][1] < 0 < rows[-1]["gain"]["ci95"][0]  # noise wins, then gain
    for g0, g1, s0, s1 in zip(gains, gains[1:], ses, ses[1:], strict=False):
        assert g1 - g0 > 4 * np.hypot(s0, s1)
    # finite n never beats the ray's best point (up to 4 SE)
    assert gains[-1] <= theorem.samples_per_dim["predicted_best_gain"] + 4 * ses[-1]


def test_corollary_rows_agree_and_paper_claim_holds():
    r = check_corollary(quick=True, dims=[5, 50, 500], seed=1)
    trials = r.settings["sgd_trials"]
    for row in r.rows:
        p = row.p_c1_exact
        se = np.sqrt(p * (1 - p) / r.settings["monte_carlo_samples"])
        assert abs(row.p_c1_monte_carlo - p) <= 4 * se + 1e-12
        # finite-sample SGD improves no more often than C1 holds (up to sampling error)
        assert row.sgd_improved_fraction <= p + 4 * np.sqrt(p * (1 - p) / trials) + 1e-12
    assert r.d_min_exact == 64
    assert r.paper_claim["holds"] and r.paper_claim["conservative_by"] > 10
