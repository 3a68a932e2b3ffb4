import os
import shutil
import tempfile

import numpy as np
import pytest


def assert_within_se(estimate, target, se, k=4.0, what=""):
    """|estimate − target| ≤ k·SE, with the numbers printed on failure."""
    diff = abs(float(estimate) - float(target))
    assert diff <= k * float(se), (
        f"{what}: estimate {estimate:.6g} vs target {target:.6g}: |diff| = {diff:.3g} > "
        f"{k}·SE = {k * se:.3g}")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# Tests never reach a model hub: without this a hub lookup retries for ~46 s before failing.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Tests never write into the user's model cache: converted and derived checkpoints go to a
# session folder (removed at the end), or to $DELTATHEORY_TEST_CACHE when set (a dedicated,
# persistent test cache, e.g. to skip the one-off SmolLM2 conversion on a developer machine).
_USER_CACHE = os.environ.get("DELTATHEORY_CACHE")
_SESSION_CACHE = os.environ.get("DELTATHEORY_TEST_CACHE") or tempfile.mkdtemp(
    prefix="deltatheory-test-cache-")
os.environ["DELTATHEORY_CACHE"] = _SESSION_CACHE


def pytest_sessionfinish(session, exitstatus):
    if not os.environ.get("DELTATHEORY_TEST_CACHE"):
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


@pytest.fixture
def session_cache():
    return _SESSION_CACHE
