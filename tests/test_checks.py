"""The toolkit's verdict, in quick mode: every statement is a real assertion."""

import numpy as np
import pytest

from deltatheory import check_corollary, check_theorem


@pytest.fixture(scope="module")
def theorem():
    return check_theorem(quick=True, seed=0)


def test_student_improves_exactly_when_c1_holds(theorem):
    for row in theorem["configs"]:
        assert row["improved"] == row["c1"], row["name"]
        assert row["agrees_with_theory"], row["name"]
        assert row["tied_gain"]["mean"] == 0.0
    assert theorem["all_agree"]


def test_best_gain_scales_as_kappa_squared(theorem):
    e = theorem["exponent"]
    assert e["slope_closed_form"] == pytest.approx(2.0, abs=0.2)
    lo, hi = e["slope_measured_ci95"]
    assert lo <= e["slope_closed_form"] <= hi


def test_more_samples_per_dimension_help(theorem):
    gains = [r["gain"]["mean"] for r in theorem["samples_per_dim"]["rows"]]
    assert gains[0] < 0 < gains[-1]       # too few samples: noise wins; enough: the gain shows
    assert np.all(np.diff(gains) > 0)
    assert gains[-1] <= theorem["samples_per_dim"]["predicted_best_gain"]


def test_corollary_rows_agree_and_paper_claim_holds():
    r = check_corollary(quick=True, dims=[5, 50, 500], seed=1)
    for row in r["rows"]:
        se = np.sqrt(row["p_c1_exact"] * (1 - row["p_c1_exact"]) /
                     r["settings"]["monte_carlo_samples"])
        assert abs(row["p_c1_monte_carlo"] - row["p_c1_exact"]) <= 4 * se + 1e-12
        # finite-sample SGD improves no more often than C1 holds (up to sampling error)
        assert row["sgd_improved_fraction"] <= row["p_c1_exact"] + 4 * max(
            row["sgd_improved_fraction_se"], 1e-3)
    assert r["d_min_exact"] == 64
    assert r["paper_claim"]["holds"] and r["paper_claim"]["conservative_by"] > 10
