"""partial_spearman_ci, sign_agreement and heterogeneity_of_seed_variance (deltatheory.stats)."""

import warnings

import numpy as np
import pytest
from scipy import stats as st

from deltatheory.rng import generator
from deltatheory.stats import (
    heterogeneity_of_seed_variance,
    partial_spearman_ci,
    percentile_ci,
    sign_agreement,
    spearman_ci,
)

# a fixed small dataset with ties in every column
X = np.array([1.0, 2.0, 2.0, 4.0, 5.0, 3.0, 7.0, 8.0, 6.0, 9.0])
Z = np.array([2.0, 1.0, 3.0, 3.0, 6.0, 5.0, 4.0, 9.0, 8.0, 7.0])
Y = np.array([1.5, 1.0, 2.5, 4.0, 4.0, 6.0, 5.0, 7.0, 9.0, 8.0])


def _by_hand(x, z, y):
    r_xy, r_xz, r_yz = (st.spearmanr(a, b).statistic for a, b in ((x, y), (x, z), (y, z)))
    den = (1 - r_xz**2) * (1 - r_yz**2)
    if not (np.isfinite(den) and den > 1e-12):
        return np.nan
    return (r_xy - r_xz * r_yz) / np.sqrt(den)


def test_partial_spearman_matches_a_hand_computation_with_scipy():
    r = partial_spearman_ci(X, Z, Y, 300, 4)
    assert r.rho == pytest.approx(_by_hand(X, Z, Y), abs=1e-12)
    assert r.n == 10 and r.why is None
    # the CI: the same resamples (stream (seed, 0)), each re-ranked, replicates that have no
    # partial rho dropped and counted
    idx = generator(4, 0).integers(0, 10, size=(300, 10))
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = np.array([_by_hand(X[i], Z[i], Y[i]) for i in idx])
    assert r.degenerate == int((~np.isfinite(boot)).sum())
    assert r.ci95 == pytest.approx(percentile_ci(boot), abs=1e-12)


def test_partial_spearman_removes_what_the_control_explains():
    g = np.random.default_rng(11)
    z = g.standard_normal(200)
    x = z + 0.5 * g.standard_normal(200)
    y = np.tanh(z) + 0.05 * g.standard_normal(200)  # y = f(z) + small noise
    assert spearman_ci(x, y, 200).rho > 0.7
    part = partial_spearman_ci(x, z, y, 200)
    assert abs(part.rho) < 0.3
    assert part.ci95[0] < 0.3 and part.ci95[1] > -0.3
    # and a y that follows x itself keeps a clear partial rho
    y2 = x + 0.5 * g.standard_normal(200)
    assert partial_spearman_ci(x, z, y2, 200).ci95[0] > 0.3


def test_partial_spearman_y_se_widens_the_interval_without_moving_rho():
    plain = partial_spearman_ci(X, Z, Y, 500, 2)
    noisy = partial_spearman_ci(X, Z, Y, 500, 2, y_se=[2.0] * 10, y_df=[3] * 5 + [None] * 5)
    exact = partial_spearman_ci(X, Z, Y, 500, 2, y_se=[0.0] * 10)
    assert noisy.rho == plain.rho
    assert noisy.ci95[0] < plain.ci95[0]
    assert exact == plain  # zero se: the points-only interval, same resamples
    with pytest.raises(ValueError):
        partial_spearman_ci(X, Z, Y, 50, y_se=[1.0] * 9)
    with pytest.raises(ValueError):
        partial_spearman_ci(X, Z, Y, 50, y_se=[1.0] * 10, y_df=[0] * 10)


def test_partial_spearman_is_deterministic_given_data_and_seed():
    kw = {"y_se": np.linspace(0.1, 1.0, 10), "y_df": [4] * 10}
    a = partial_spearman_ci(X, Z, Y, 400, 7, **kw)
    b = partial_spearman_ci(list(X), list(Z), list(Y), 400, 7, **kw)
    assert a == b
    assert partial_spearman_ci(X, Z, Y, 400, 8, **kw).ci95 != a.ci95


def test_partial_spearman_undefined_cases():
    few = partial_spearman_ci([1, 2, 3], [3, 1, 2], [1, 3, 2], 50)
    assert few.rho is None and few.ci95 is None and "4" in few.why
    same = partial_spearman_ci([1, 2, 3, 4, 5], [10, 20, 30, 40, 50], [2, 1, 4, 3, 5], 50)
    assert same.rho is None and same.degenerate == 50 and same.why  # z orders x exactly
    with pytest.raises(ValueError):
        partial_spearman_ci([1, 2, 3, 4], [1, 2, 3], [1, 2, 3, 4])
    # four points: many resamples repeat a point until a side is constant; they are counted
    r = partial_spearman_ci([1, 2, 3, 4], [2, 1, 4, 3], [1, 3, 2, 4], 200)
    assert r.rho is not None and 0 < r.degenerate < 200


def test_sign_agreement_counts_a_hand_example():
    pred = [0.3, -0.2, 0.0, 0.1, -0.4, 0.2]
    obs = [0.5, -0.1, 0.2, -0.3, 0.1, 0.05]
    ci = [[0.2, 0.8], [-0.3, 0.1], [0.1, 0.3], [-0.5, -0.1], [-0.2, 0.4], None]
    s = sign_agreement(pred, obs, ci)
    # right: points 0, 1, 5; point 2 predicts 0 (wrong); 3 and 4 have the wrong sign
    assert (s["n"], s["right"], s["share"]) == (6, 3, 0.5)
    lo, hi = st.binomtest(3, 6).proportion_ci(method="wilson")
    assert s["share_ci95"] == pytest.approx([lo, hi])
    # resolved: points 0, 2, 3 (1 and 4 straddle 0, 5 has no CI); only point 0 is right
    assert (s["n_resolved"], s["right_resolved"]) == (3, 1)
    assert s["share_resolved"] == pytest.approx(1 / 3)
    lo, hi = st.binomtest(1, 3).proportion_ci(method="wilson")
    assert s["share_resolved_ci95"] == pytest.approx([lo, hi])
    bare = sign_agreement(pred, obs)
    assert bare["right"] == 3 and bare["n_resolved"] is None
    empty = sign_agreement([], [], [])
    assert empty["n"] == 0 and empty["share"] is None and empty["share_ci95"] is None
    assert empty["share_resolved"] is None
    with pytest.raises(ValueError):
        sign_agreement([1.0, 2.0], [1.0])


def test_heterogeneity_of_seed_variance():
    one = heterogeneity_of_seed_variance([[0.1, 0.2, 0.3], [0.5]])
    assert one["levene_p"] is None and one["bartlett_p"] is None and one["k"] == 1
    assert one["sd_by_pair"][1] is None
    base = np.array([-1.2, -0.5, -0.1, 0.2, 0.6, 1.0])
    h = heterogeneity_of_seed_variance([0.5 + 0.1 * base, 0.5 + 10.0 * base, [0.3]])
    assert h["k"] == 2 and h["sd_by_pair"][2] is None
    assert h["sd_by_pair"][1] == pytest.approx(100 * h["sd_by_pair"][0])
    assert h["levene_p"] < 0.01 and h["bartlett_p"] < 1e-6
    alike = heterogeneity_of_seed_variance([base, base[::-1] + 3.0])
    assert alike["levene_p"] > 0.9 and alike["bartlett_p"] > 0.9
    # two seeds a pair: Levene's median-centred deviations are equal within each pair
    two = heterogeneity_of_seed_variance([[0.0, 0.1], [0.0, 5.0], [1.0, 1.5]])
    assert two["levene_p"] is None and two["bartlett_p"] is not None and "Levene" in two["why"]
