import jax.numpy as jnp
import numpy as np
import pytest

from deltatheory import LOSSES, loss_derivative, loss_value
from deltatheory.losses import apply_control


@pytest.mark.parametrize("loss", LOSSES)
def test_derivative_matches_finite_differences(loss, rng):
    s, s_ref = rng.normal(size=50), rng.normal(size=50)
    yc, yr = np.sign(rng.normal(size=50)), np.sign(rng.normal(size=50))
    h = 1e-6
    fd = (loss_value(loss, s + h, s_ref, yc, yr, 1.7)
          - loss_value(loss, s - h, s_ref, yc, yr, 1.7)) / (2 * h)
    np.testing.assert_allclose(loss_derivative(loss, s, s_ref, yc, yr, 1.7), fd, atol=1e-7)


@pytest.mark.parametrize("loss", LOSSES)
def test_numpy_and_jax_agree(loss, rng):
    args = (rng.normal(size=20), rng.normal(size=20), np.sign(rng.normal(size=20)),
            np.sign(rng.normal(size=20)))
    a = loss_derivative(loss, *args, 0.5)
    b = loss_derivative(loss, *(jnp.asarray(x, dtype=jnp.float32) for x in args), 0.5, xp=jnp)
    np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_stable_for_large_margins():
    big = np.array([-1e4, 1e4])
    for loss in LOSSES:
        assert np.all(np.isfinite(loss_value(loss, big, 0.0, 1.0, -1.0, 10.0)))
        assert np.all(np.isfinite(loss_derivative(loss, big, 0.0, 1.0, -1.0, 10.0)))


def test_pair_losses_vanish_on_agreeing_labels():
    for loss in ("pref", "dpo", "ipo"):
        assert loss_derivative(loss, 0.3, 0.1, 1.0, 1.0, 2.0) == 0.0


def test_controls():
    assert apply_control(1, -1, "reversed") == (-1, 1)
    assert apply_control(1, -1, "tied") == (1, 1)
    with pytest.raises(ValueError):
        apply_control(1, -1, "sideways")
