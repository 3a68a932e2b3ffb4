import os

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
