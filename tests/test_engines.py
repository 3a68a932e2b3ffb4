"""The engines held to each other and to the closed forms."""

import numpy as np
import pytest
from conftest import assert_within_se

from deltatheory import DeltaTheoryError, Geometry, lambda_from_sgd, ray_alignment, simulate

G = Geometry(0.8, 0.7, 0.6, 0.2, -0.1, 0.3)


def _two_sample(a, b, what):
    """Welch z-test on accuracy gains: |mean difference| ≤ 4·SE of the difference.

    Gains (final − initial) rather than final accuracies, so the float32 rounding of the common
    starting point (~1e-8) cancels.
    """
    fa = a.accuracy[:, -1] - a.accuracy[:, 0]
    fb = b.accuracy[:, -1] - b.accuracy[:, 0]
    se = np.sqrt(fa.var(ddof=1) / len(fa) + fb.var(ddof=1) / len(fb))
    assert_within_se(fa.mean() - fb.mean(), 0.0, se, what=what)


@pytest.mark.parametrize("loss", ["pref", "dpo", "ipo", "sft-chosen", "sft-rejected"])
def test_reduced_full_and_numpy_agree(loss):
    kw = dict(loss=loss, lr=0.05, steps=30, batch=16, trials=1500, beta=2.0, records=3)
    red = simulate(G, 12, engine="reduced", seed=1, **kw)
    ful = simulate(G, 12, engine="full", seed=2, **kw)
    ref = simulate(G, 12, engine="numpy", seed=3, **kw)
    _two_sample(red, ref, f"{loss}: reduced vs numpy")
    _two_sample(ful, ref, f"{loss}: full vs numpy")


@pytest.mark.parametrize("control", ["reversed", "tied"])
def test_controls_agree_across_engines(control):
    kw = dict(loss="dpo", control=control, lr=0.05, steps=20, batch=16, trials=1500, records=2)
    _two_sample(simulate(G, 10, engine="reduced", seed=4, **kw),
                simulate(G, 10, engine="numpy", seed=5, **kw), control)


def test_small_dimensions_agree():
    """d = 3 and 4 leave no room outside the span: the reduced engine must drop the remainder."""
    g = Geometry(0.8, 0.7, 0.6, 1.0, 1.0, 1.0)
    for d in (3, 4):
        kw = dict(loss="dpo", lr=0.1, steps=20, batch=8, trials=1500, records=2)
        _two_sample(simulate(g, d, engine="reduced", seed=6, **kw),
                    simulate(g, d, engine="numpy", seed=7, **kw), f"d={d}")


def test_finite_dataset_full_matches_numpy():
    kw = dict(loss="dpo", lr=0.05, steps=40, batch=16, trials=1000, records=2, dataset_size=48)
    _two_sample(simulate(G, 8, engine="full", seed=8, **kw),
                simulate(G, 8, engine="numpy", seed=9, **kw), "finite data set")


def test_mean_end_point_approaches_the_ray():
    """Naive loss: with n = B·T samples the mean end point → f(λ), λ = ηT/√(2π)."""
    lr, steps, trials = 0.1, 4, 2000
    target = float(ray_alignment(G, lambda_from_sgd(lr, steps)))
    errors = []
    for batch in (50, 5000):
        res = simulate(G, 5, loss="pref", lr=lr, steps=steps, batch=batch, trials=trials,
                       seed=10, records=1)
        end = res.alignment[:, -1]
        errors.append(abs(end.mean() - target))
    se = end.std(ddof=1) / np.sqrt(trials)
    # finite-sample bias ≈ α₀ (ηT)² p d / (2n) ≈ 1e-6 here, far below the SE
    assert_within_se(end.mean(), target, se, what="mean end point vs f(λ)")
    assert errors[1] < errors[0]


def test_tied_pairs_never_move_the_student():
    for loss in ("pref", "dpo", "ipo"):
        res = simulate(G, 50, loss=loss, control="tied", lr=0.1, steps=10, batch=8, trials=10)
        np.testing.assert_array_equal(res.alignment,
                                      np.broadcast_to(res.alignment[:, :1], res.alignment.shape))


def test_same_seed_same_numbers_and_cost_independent_of_dimension():
    kw = dict(loss="dpo", lr=0.05, steps=10, batch=8, trials=20, seed=3)
    a = simulate(G, 10**6, **kw)
    b = simulate(G, 10**6, **kw)
    np.testing.assert_array_equal(a.alignment, b.alignment)
    c = simulate(G, 10**6, **{**kw, "seed": 4})
    assert not np.array_equal(a.alignment, c.alignment)


def test_random_error_directions_per_trial():
    res = simulate(Geometry(0.8, 0.7, 0.6), 20, loss="pref", lr=0.2, steps=1, batch=2000,
                   trials=200, random_error_directions=True, records=1)
    assert res.alignment.shape == (200, 2)
    # the student is fixed; its float32 cosine varies by rounding only
    np.testing.assert_allclose(res.alignment[:, 0], res.alignment[0, 0], rtol=0, atol=1e-6)
    assert 0 < res.summary()["improved_fraction"] < 1


def test_large_batches_are_summed_in_micro_batches():
    """A batch above the micro-batch size gives the same law as the numpy oracle."""
    kw = dict(loss="dpo", lr=0.1, steps=2, batch=2500, trials=600, records=1)
    _two_sample(simulate(G, 6, engine="reduced", seed=11, **kw),
                simulate(G, 6, engine="numpy", seed=12, **kw), "micro-batches")


@pytest.mark.parametrize("kw, match", [
    (dict(loss="mse"), "loss"), (dict(control="sideways"), "control"),
    (dict(engine="gpu"), "engine"), (dict(steps=0), "steps"), (dict(batch=-1), "batch"),
    (dict(lr=float("nan")), "lr"), (dict(trials=0), "trials"), (dict(beta=0), "beta"),
    (dict(dataset_size=10), "dataset_size"), (dict(engine="numpy", dataset_size=2), "batch"),
])
def test_bad_input(kw, match):
    base = dict(loss="dpo", lr=0.1, steps=2, batch=4, trials=2)
    with pytest.raises(DeltaTheoryError, match=match):
        simulate(G, 10, **{**base, **kw})


def test_dimension_checks():
    with pytest.raises(DeltaTheoryError, match="dim"):
        simulate(G, 2, steps=1, trials=1)
    with pytest.raises(DeltaTheoryError, match="too small"):
        simulate(G, 3, steps=1, trials=1)


@pytest.mark.parametrize("loss, fn", [("dpo", "_run_chunk_disagreement"),
                                      ("sft-chosen", "_run_chunk")])
def test_second_call_does_not_recompile(loss, fn):
    """d, lr, β, the seed and the geometry (so the teachers' disagreement rate) are traced
    values, and so is the control (none or reversed) on the disagreement path: changing them
    reuses the compiled step."""
    from deltatheory.engines import reduced

    kw = dict(loss=loss, steps=6, batch=4, trials=5, records=3)
    simulate(G, 10, lr=0.1, seed=0, **kw)
    before = getattr(reduced, fn)._cache_size()
    assert before > 0
    simulate(G, 10**6, lr=0.3, beta=2.0, seed=7, **kw)
    simulate(Geometry(0.8, 0.79, 0.78, 0.3, 0.3, 0.97), 30, lr=0.3, seed=1, **kw)
    if loss == "dpo":
        simulate(G, 10, lr=0.1, seed=0, control="reversed", **kw)
    assert getattr(reduced, fn)._cache_size() == before
