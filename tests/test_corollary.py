import numpy as np
import pytest
from conftest import assert_within_se

from deltatheory import (
    DeltaTheoryError,
    min_dimension,
    p_c1_exact,
    p_c1_gaussian,
    p_c1_monte_carlo,
)


@pytest.mark.parametrize("triple", [(0.8, 0.7, 0.6), (0.9, 0.6, 0.55), (0.7, 0.68, 0.52)])
@pytest.mark.parametrize("d", [3, 4, 7, 30, 150])
def test_exact_matches_monte_carlo(triple, d):
    n = 100_000
    est, _ = p_c1_monte_carlo(*triple, d, n, np.random.default_rng(d))
    exact = p_c1_exact(*triple, d)
    # the binomial standard error under the null hypothesis P = exact
    assert_within_se(est, exact, np.sqrt(exact * (1 - exact) / n), what=f"P[C1] {triple} d={d}")


def test_gaussian_approaches_exact_in_high_dimension():
    gaps = [abs(p_c1_exact(0.9, 0.6, 0.58, d) - p_c1_gaussian(0.9, 0.6, 0.58, d))
            for d in (10, 100, 1000, 10_000)]
    assert gaps[-1] < 2e-3 and gaps[-1] < gaps[0]
    assert p_c1_exact(0.8, 0.7, 0.6, 10**7) == pytest.approx(1.0)


def test_monotone_in_dimension():
    p = p_c1_exact(0.8, 0.7, 0.6, np.array([3, 5, 10, 30, 100, 300]))
    assert np.all(np.diff(p) > 0)


@pytest.mark.parametrize("q", [0.6, 0.9, 0.99])
def test_min_dimension_is_minimal(q):
    d = min_dimension(0.8, 0.7, 0.6, q)
    assert p_c1_exact(0.8, 0.7, 0.6, d) >= q
    if d > 3:
        assert p_c1_exact(0.8, 0.7, 0.6, d - 1) < q


def test_paper_example_is_conservative():
    assert min_dimension(0.8, 0.7, 0.6, 0.9) == 64
    assert p_c1_exact(0.8, 0.7, 0.6, 2001) > 0.9


@pytest.mark.parametrize("args", [(0.8, 0.6, 0.7, 0.9), (0.8, 0.7, 0.6, 1.0),
                                  (0.8, 0.7, 0.6, 0.0), (1.1, 0.7, 0.6, 0.9)])
def test_min_dimension_bad_input(args):
    with pytest.raises(DeltaTheoryError):
        min_dimension(*args)


def test_exact_is_accurate_where_the_kink_sits_near_rho_one(rng):
    # 80/52/56 at d = 10: ‖w(ρ)‖ falls to |t₀| only for ρ within 4e-3 of 1, where the quantile
    # of ρ is within 1e-9 of 1; quad used to warn of round-off here (warnings are errors).
    for chosen, rejected in ((0.52, 0.56), (0.56, 0.52)):
        p = p_c1_exact(0.8, chosen, rejected, 10)
        est, se = p_c1_monte_carlo(0.8, chosen, rejected, 10, 200_000, rng)
        assert_within_se(est, p, se, what=f"{chosen}/{rejected}")
