"""The CI of a seed-averaged gain: it carries the spread between training seeds."""

import numpy as np
import pytest
from scipy import stats

from deltatheory.rng import generator
from deltatheory.stats import paired_diff_ci, seeds_items_ci


def _coverage(n_seeds, seed_sd, runs, g, *, items_only=False, n=200, mu=0.05):
    """How often the interval holds mu, over data sets with a seed effect (sd seed_sd), an item
    effect shared by the seeds (sd 0.5) and noise (sd 0.5)."""
    hit = 0
    for k in range(runs):
        d = (mu + seed_sd * g.standard_normal((n_seeds, 1)) + 0.5 * g.standard_normal((1, n))
             + 0.5 * g.standard_normal((n_seeds, n)))
        lo, hi = (paired_diff_ci(np.zeros(n), d.mean(axis=0), 200, k) if items_only
                  else seeds_items_ci(np.zeros(n), d))
        hit += lo <= mu <= hi
    return hit / runs


def test_seeds_that_agree_give_the_items_t_interval():
    g = generator(3, 0)
    before, after = g.integers(0, 2, 300), g.integers(0, 2, 300)
    diff = after - before
    want = stats.t.interval(0.95, len(diff) - 1, diff.mean(), diff.std(ddof=1) / np.sqrt(300))
    assert seeds_items_ci(before, [after, after, after]) == pytest.approx(list(want), abs=1e-12)


def test_the_interval_covers_the_mean_over_seeds():
    """Nominal within 3 standard errors from 5 seeds on (1000 data sets each); with 2 seeds the
    Satterthwaite approximation's floor (0.87 in a 2000-set simulation, stated in the
    docstring), where resampling items alone covers far less (it ignores the seeds)."""
    runs = 1000
    se = np.sqrt(0.95 * 0.05 / runs)
    g = generator(11, 0)
    for n_seeds in (5, 40):
        assert abs(_coverage(n_seeds, 0.6, runs, g) - 0.95) <= 3 * se, n_seeds
    two = _coverage(2, 0.6, runs, g)
    assert two >= 0.87 - 3 * np.sqrt(0.87 * 0.13 / runs), two
    items = _coverage(2, 0.6, 300, g, items_only=True)
    assert items < 0.6, items  # the test can tell an interval that leaves the seeds out


def test_one_seed_or_one_item_has_no_interval_and_shapes_are_checked():
    assert seeds_items_ci(np.zeros(50), [np.ones(50)]) is None
    assert seeds_items_ci([0.0], [[1.0], [1.0]]) is None
    with pytest.raises(ValueError, match="one row of the same 50 items per seed"):
        seeds_items_ci(np.zeros(50), np.ones((2, 40)))
    lo, hi = seeds_items_ci(np.zeros(100), [np.r_[np.ones(10), np.zeros(90)],
                                            np.r_[np.ones(30), np.zeros(70)]])
    assert lo < 0.1 and hi > 0.3  # two seeds 20 points apart: the interval spans both and more
