"""Simulations whose arrays cannot fit in memory are refused before any allocation."""

import importlib
import time

import numpy as np
import pytest

from deltatheory import DeltaTheoryError, Geometry, simulate
from deltatheory.simulate import MEMORY_ENV, estimate_peak_bytes, memory_limit_bytes

sim = importlib.import_module("deltatheory.simulate")  # the package's `simulate` is the function
G = Geometry(0.8, 0.7, 0.6)


@pytest.fixture
def no_allocation(monkeypatch):
    """Fail the test if simulate gets as far as building vectors or drawing overlaps."""
    def boom(*args, **kwargs):
        raise AssertionError("allocated before refusing")

    monkeypatch.setattr(sim, "vectors", boom)
    monkeypatch.setattr(sim, "gram_matrix", boom)
    monkeypatch.setattr(sim, "random_overlaps", boom)


@pytest.mark.parametrize("kw, advice", [
    (dict(engine="numpy", dim=10**9), "use engine 'reduced', which is exact at any d"),
    (dict(engine="full", dim=10**9), "use engine 'reduced', which is exact at any d"),
    (dict(engine="numpy", dim=10**6, dataset_size=10**6), "use a smaller dim"),
    (dict(engine="reduced", dim=10, trials=10**13), "run fewer trials"),
    (dict(engine="numpy", dim=10, trials=10**13, random_error_directions=True),
     "run fewer trials"),
    (dict(engine="full", dim=10**5, trials=10**6, random_error_directions=True),
     "use engine 'reduced'"),
])
def test_runs_that_cannot_fit_are_refused_fast_with_one_line(no_allocation, kw, advice):
    t = time.perf_counter()
    with pytest.raises(DeltaTheoryError, match=r"needs about [\d.]+ GiB \(limit [\d.]+ GiB") as e:
        simulate(G, **{"trials": 1000, "steps": 10, **kw})
    assert time.perf_counter() - t < 1.0
    msg = str(e.value)
    assert "\n" not in msg and advice in msg and f"dim={kw['dim']}" in msg, msg


def test_the_estimate_covers_one_batch_of_float64_inputs():
    # numpy at d = 1e9: one trial's batch of 64 inputs alone is 64e9 × 8 bytes = 476.8 GiB
    assert estimate_peak_bytes("numpy", 10**9, 1000, 64) >= 64e9 * 8
    assert estimate_peak_bytes("full", 10**9, 1000, 64) >= 64e9 * 4
    # the reduced engine's memory does not depend on d
    assert estimate_peak_bytes("reduced", 10**9, 1000, 64) == estimate_peak_bytes(
        "reduced", 10, 1000, 64)


def test_a_normal_run_is_not_refused():
    for engine in ("reduced", "full", "numpy"):
        res = simulate(G, 1000, engine=engine, steps=3, batch=8, trials=4)
        assert res.alignment.shape == (4, 4)


def test_the_limit_is_half_the_available_memory_or_the_environment(monkeypatch):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    limit, why = memory_limit_bytes()
    assert why == "half the available memory" and 0 < limit < np.inf
    monkeypatch.setenv(MEMORY_ENV, "0.01")
    assert memory_limit_bytes() == (0.01 * 2**30, f"set by {MEMORY_ENV}")
    # numpy, d = 1e5, a batch of 64: 49 MiB of inputs > 10 MiB
    with pytest.raises(DeltaTheoryError, match=f"limit 0.0 GiB, set by {MEMORY_ENV}"):
        simulate(G, 10**5, engine="numpy", steps=1, batch=64, trials=1)
    monkeypatch.setenv(MEMORY_ENV, "1")
    assert simulate(G, 10**5, engine="numpy", steps=1, batch=64, trials=1).alignment.shape == (
        1, 2)


@pytest.mark.parametrize("value", ["lots", "-1", "0", "nan"])
def test_a_bad_limit_in_the_environment_is_a_one_line_error(monkeypatch, value):
    monkeypatch.setenv(MEMORY_ENV, value)
    with pytest.raises(DeltaTheoryError, match=MEMORY_ENV):
        simulate(G, 10, steps=1, trials=1)


def test_records_beyond_the_steps_allocate_nothing_extra():
    # every step is recorded once records ≥ steps; 10**12 used to build a linspace of 8 TB
    t = time.perf_counter()
    res = simulate(G, 10, steps=5, batch=4, trials=2, records=10**12)
    assert res.steps.tolist() == [0, 1, 2, 3, 4, 5] and time.perf_counter() - t < 30
