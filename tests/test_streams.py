"""A simulation trial's numbers depend only on (seed, trial index): not on how many trials run,
nor on the chunks the engines process them in."""

import numpy as np
import pytest

from deltatheory import Geometry, simulate
from deltatheory.engines import full, numpy_engine, reduced
from deltatheory.rng import generator
from deltatheory.simulate import OVERLAP_STREAM, trial_overlaps

G = Geometry(0.8, 0.7, 0.6, 0.2, -0.1, 0.3)
KW = dict(loss="dpo", lr=0.1, steps=12, batch=8, seed=5, records=4)
RUNS = [("numpy", None), ("numpy", 24), ("full", None), ("full", 24), ("reduced", None)]
MODULES = {"numpy": numpy_engine, "full": full, "reduced": reduced}


def _run(engine, dataset_size, trials, random_dirs, dim=12, **kw):
    return simulate(G, dim, engine=engine, trials=trials, dataset_size=dataset_size,
                    random_error_directions=random_dirs, **{**KW, **kw}).alignment


def _force_chunk(monkeypatch, engine, size):
    """Make ``engine`` process trials ``size`` at a time (the last chunk padded or short)."""
    monkeypatch.setattr(MODULES[engine], "trial_chunk",
                        lambda trials, per_trial, budget_floats=None: min(size, trials))


@pytest.mark.parametrize("random_dirs", [False, True], ids=["fixed", "random-directions"])
@pytest.mark.parametrize("engine, dataset_size", RUNS)
def test_first_trials_do_not_depend_on_the_number_of_trials(engine, dataset_size, random_dirs):
    five = _run(engine, dataset_size, 5, random_dirs)
    nine = _run(engine, dataset_size, 9, random_dirs)
    np.testing.assert_array_equal(five, nine[:5])
    assert not np.array_equal(nine[5:], np.broadcast_to(nine[:1], (4, nine.shape[1])))


@pytest.mark.parametrize("random_dirs", [False, True], ids=["fixed", "random-directions"])
@pytest.mark.parametrize("dataset_size", [None, 24])
@pytest.mark.parametrize("chunk", [1, 2, 4])
def test_numpy_engine_results_do_not_depend_on_the_chunk_size(monkeypatch, chunk, dataset_size,
                                                              random_dirs):
    whole = _run("numpy", dataset_size, 9, random_dirs)
    _force_chunk(monkeypatch, "numpy", chunk)
    np.testing.assert_array_equal(_run("numpy", dataset_size, 9, random_dirs), whole)


@pytest.mark.parametrize("engine, dataset_size", [r for r in RUNS if r[0] != "numpy"])
def test_jax_engines_chunks_and_padding_change_a_trial_by_float32_rounding_only(
        monkeypatch, engine, dataset_size):
    """Each trial's key is fold_in(key(seed), i) (on the reduced engine's disagreement path: its
    words are hashes of the counters (i, ·) under a key per step) and padding copies of trial 0
    are dropped, so the random inputs are the same whatever the chunking. XLA may vectorise
    float32 arithmetic differently for another chunk shape (seen: chunks of 4 or 8 at
    d = 5…8 in ``full``), which moves a cosine by a rounding or two (≤ 1.2e-7 seen); a wrong
    key per trial would move it by O(0.01). The bound is 8 float32 roundings of a number of
    size 1."""
    whole = _run(engine, dataset_size, 9, False, dim=6)
    for size in (1, 2, 4, 5):
        _force_chunk(monkeypatch, engine, size)
        got = _run(engine, dataset_size, 9, False, dim=6)
        np.testing.assert_allclose(got, whole, rtol=0, atol=8 * 2.0**-23, err_msg=f"{size}")


# the reduced engine's two paths (deltatheory.engines.reduced.draw_path): DPO draws only the
# inputs on which the teachers disagree (counts from a CDF table up to batch 1024, from
# jax.random.binomial above), SFT draws every input
REDUCED_PATHS = [dict(loss="dpo"), dict(loss="dpo", batch=1100, steps=2),
                 dict(loss="sft-chosen")]
REDUCED_IDS = ["disagreement", "disagreement-large-batch", "all"]


@pytest.mark.parametrize("random_dirs", [False, True], ids=["fixed", "random-directions"])
@pytest.mark.parametrize("kw", REDUCED_PATHS, ids=REDUCED_IDS)
def test_reduced_paths_first_trials_do_not_depend_on_the_number_of_trials(kw, random_dirs):
    five = _run("reduced", None, 5, random_dirs, **kw)
    nine = _run("reduced", None, 9, random_dirs, **kw)
    np.testing.assert_array_equal(five, nine[:5])
    assert not np.array_equal(nine[5:], np.broadcast_to(nine[:1], (4, nine.shape[1])))


@pytest.mark.parametrize("kw", REDUCED_PATHS, ids=REDUCED_IDS)
def test_reduced_paths_chunks_change_a_trial_by_float32_rounding_only(monkeypatch, kw):
    whole = _run("reduced", None, 9, True, dim=6, **kw)
    for size in (1, 2, 4, 5):
        _force_chunk(monkeypatch, "reduced", size)
        got = _run("reduced", None, 9, True, dim=6, **kw)
        np.testing.assert_allclose(got, whole, rtol=0, atol=8 * 2.0**-23, err_msg=f"{size}")


def test_a_trials_overlaps_come_from_its_own_stream():
    ov = trial_overlaps(20, 4, 7)
    from deltatheory.geometry import random_overlaps

    for i in range(4):
        np.testing.assert_array_equal(
            ov[i], random_overlaps(20, 1, generator(7, OVERLAP_STREAM, i))[0])
    assert not np.array_equal(ov, trial_overlaps(20, 4, 8))


def test_other_seeds_give_other_numbers():
    for engine, dataset_size in RUNS:
        a = simulate(G, 12, engine=engine, trials=3, dataset_size=dataset_size, **KW)
        b = simulate(G, 12, engine=engine, trials=3, dataset_size=dataset_size,
                     **{**KW, "seed": 6})
        assert not np.array_equal(a.alignment[:, 1:], b.alignment[:, 1:]), engine
