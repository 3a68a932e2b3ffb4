import warnings

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


# P[C1] from an independent high-precision computation: mpmath (30 digits) integrating over ρ
# with its Beta density, split at the kink and near ρ = ±1. The first rows are weak, near-tied
# teachers, where the old quadrature warned (d = 5, 7: off by up to 3.5e-9) or was silently off
# (d = 4: by 2.4e-7); the last show the dip from d = 3 to d = 4.
REFERENCE = [
    (0.93, 0.527, 0.515, 7, 0.5055515833013069),
    (0.8, 0.515, 0.501, 7, 0.52104430189323648),
    (0.99, 0.515, 0.505, 4, 0.50049343963426842),
    (0.9, 0.501, 0.5001, 4, 0.50045923920306641),
    (0.99, 0.505, 0.515, 5, 0.49946644911104545),
    (0.9999, 0.501, 0.5001, 5, 0.50000048000033529),
    (0.55, 0.505, 0.5001, 50, 0.68358633920349458),
    (0.6, 0.999, 0.998, 5000, 0.67671920227464688),
    (0.8, 0.7, 0.6, 64, 0.90043459192457307),
    (0.7, 0.68, 0.52, 3, 0.74508854525623652),
    (0.8, 0.65, 0.6, 3, 0.55883124101998771),
    (0.8, 0.65, 0.6, 4, 0.55507252176230643),
]


@pytest.mark.parametrize("student, chosen, rejected, d, want", REFERENCE)
def test_exact_matches_a_high_precision_reference(student, chosen, rejected, d, want):
    # 1e-10 is the documented accuracy (the quadrature's tolerance), not a fitted number
    assert abs(p_c1_exact(student, chosen, rejected, d) - want) <= 1e-10


def test_no_integration_warning_for_weak_near_tied_teachers():
    """A broad grid of triples (either teacher better) and d = 3…5000 under warnings-as-errors.

    (0.930, 0.527, 0.515) at d = 7 raised IntegrationWarning (round-off in the extrapolation
    table): the integrand has a feature ~1e-11 wide at one end of the quantile range.
    """
    accs = np.array([0.5001, 0.501, 0.515, 0.527, 0.6, 0.8, 0.999])
    students = np.array([0.6, 0.8, 0.93, 0.999])[:, None, None, None]
    dims = np.array([3, 4, 5, 7, 10, 50, 1000, 5000])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # p[s, c, r, d]: both teachers' orders, so κ > 0 and κ < 0 (and c = r: exactly 1/2)
        p = p_c1_exact(students, accs[None, :, None, None], accs[None, None, :, None],
                       dims[None, None, None, :])
        assert p_c1_exact(0.930, 0.527, 0.515, 7) == pytest.approx(REFERENCE[0][-1], abs=1e-10)
    assert np.all((p >= 0) & (p <= 1))
    # the exact symmetry P(s, c, r) = 1 − P(s, r, c): T is symmetric and ‖w‖ is unchanged
    np.testing.assert_allclose(p + p.transpose(0, 2, 1, 3), 1.0, rtol=0, atol=2e-10)


def test_p_c1_can_fall_from_d3_to_d4():
    """Why min_dimension scans the small d: 80/65/60 has P[C1] 0.5588 at d = 3, 0.5551 at 4."""
    p = p_c1_exact(0.8, 0.65, 0.6, np.array([3, 4, 5]))
    assert p[1] < p[0] - 1e-3 and p[2] > p[0]


# triples with teachers near-tied, near chance, far apart; students weak to strong
MONOTONE_GRID = [(0.8, 0.7, 0.6), (0.8, 0.65, 0.6), (0.93, 0.527, 0.515), (0.6, 0.515, 0.505),
                 (0.55, 0.501, 0.5001), (0.999, 0.515, 0.501), (0.7, 0.99, 0.5001),
                 (0.9, 0.6, 0.58), (0.6, 0.95, 0.8), (0.75, 0.9, 0.505), (0.527, 0.6, 0.55),
                 (0.9999, 0.999, 0.998)]


@pytest.mark.parametrize("triple", MONOTONE_GRID)
def test_p_c1_rises_with_d_beyond_the_scan_cutoff(triple):
    """min_dimension bisects only above _SCAN_TO: P[C1](d + 1) ≥ P[C1](d) there, every d up to
    2.5 × the cutoff and sampled pairs up to 1e5 (2 × the quadrature tolerance allowed)."""
    from deltatheory.corollary import _SCAN_TO, _TOL

    d = np.arange(_SCAN_TO, int(2.5 * _SCAN_TO) + 1)
    p = p_c1_exact(*triple, d)
    assert np.all(np.diff(p) >= -2 * _TOL), d[1:][np.diff(p) < -2 * _TOL]
    far = np.array([100, 150, 250, 400, 700, 1000, 2000, 5000, 10**4, 10**5])
    assert np.all(p_c1_exact(*triple, far + 1) >= p_c1_exact(*triple, far) - 2 * _TOL)


@pytest.mark.parametrize("triple, q", [
    ((0.8, 0.65, 0.6), 0.557),       # between P(4) and P(3): d = 3, although P(4) < q
    ((0.8, 0.65, 0.6), 0.5589),      # just above P(3): past the dip
    ((0.8, 0.65, 0.6), 0.7),
    ((0.6, 0.527, 0.515), 0.51),
    ((0.55, 0.515, 0.505), 0.56),
    ((0.93, 0.527, 0.515), 0.53),
    ((0.8, 0.7, 0.6), 0.9),
    ((0.7, 0.68, 0.52), 0.8),
])
def test_min_dimension_is_the_smallest_d_by_brute_force(triple, q):
    d = min_dimension(*triple, q)
    p = p_c1_exact(*triple, np.arange(3, d + 1))
    assert p[-1] >= q and np.all(p[:-1] < q), (d, p)


def test_min_dimension_is_right_when_p_dips_below_the_cutoff(monkeypatch):
    """A dip anywhere below the cutoff: here P = 0.95 at d = 5 only, then 0.9 until d = 40.

    Doubling and bisection (3, 6, 12, 24, 48, then bisect) never look at d = 5.
    """
    import deltatheory.corollary as cor

    def fake(t0, sc, sr, d):
        return 0.95 if d == 5 else (0.9 if d < 40 else 0.99)

    monkeypatch.setattr(cor, "_p_c1_scalar", fake)
    assert min_dimension(0.8, 0.7, 0.6, 0.95) == 5
    assert min_dimension(0.8, 0.7, 0.6, 0.97) == 40


def test_min_dimension_searches_up_to_max_dim_inclusive():
    # doubling from 3 jumped from 48 to 96 > max_dim and gave up on a d = 64 that was allowed
    assert min_dimension(0.8, 0.7, 0.6, 0.9, max_dim=64) == 64
    with pytest.raises(DeltaTheoryError, match="not reached up to dim=63"):
        min_dimension(0.8, 0.7, 0.6, 0.9, max_dim=63)
