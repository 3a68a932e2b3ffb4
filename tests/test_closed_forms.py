import numpy as np
import pytest
from conftest import assert_within_se
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deltatheory import (
    DeltaTheoryError,
    Geometry,
    gram_matrix,
    kappa,
    predict,
    ray_alignment,
    signal_noise,
    vectors,
)

acc = st.floats(0.52, 0.98)
ov = st.floats(-0.5, 0.5)


@st.composite
def geometries(draw):
    """Valid geometries: impossible overlap triples are rejected by Geometry and skipped."""
    args = [draw(acc) for _ in range(3)] + [draw(ov) for _ in range(3)]
    try:
        return Geometry(*args)
    except DeltaTheoryError:
        assume(False)


@settings(max_examples=60, deadline=None)
@given(geometries())
def test_kappa_is_the_derivative_at_zero(g):
    h = 1e-6
    fd = (ray_alignment(g, h) - ray_alignment(g, -h)) / (2 * h)
    assert float(kappa(g)) == pytest.approx(float(fd), abs=1e-7)


@settings(max_examples=60, deadline=None)
@given(geometries())
def test_best_point_matches_a_grid_search(g):
    p = predict(g)
    lam = np.concatenate([np.linspace(0, 5, 20001), np.geomspace(5, 1e7, 2000)])
    f = ray_alignment(g, lam)
    # sup over the ray (the limit included) equals the closed form, attained at λ*
    assert max(f.max(), float(p.overtrain_alignment)) == pytest.approx(
        float(p.best_alignment), abs=2e-6)
    if np.isfinite(p.lambda_star):
        assert float(ray_alignment(g, p.lambda_star)) == pytest.approx(
            float(p.best_alignment), abs=1e-12)
    if p.kappa > 1e-6 and np.isfinite(p.lambda_star):  # a gain of ~κ² must exceed rounding
        # Theorem 6.1's order: gain √(α₀² + c²) − α₀ ≈ c²/(2α₀)
        assert p.best_alignment > p.alpha_student


def test_the_paper_example():
    p = predict(Geometry(0.8, 0.7, 0.6))
    assert float(p.kappa) == pytest.approx(0.0963121, abs=1e-6)
    assert 100 * float(p.best_gain) == pytest.approx(0.196, abs=0.001)  # "about +0.2 points"
    assert float(p.overtrain_accuracy) < 0.8  # over-training ends below the student


def test_limits():
    # tied teachers ⇒ zero signal and κ = 0 (v = 0)
    s, n = signal_noise(Geometry(0.8, 0.7, 0.7, 0.3, 0.3, 1.0))
    assert float(s) == 0.0 and float(n) == pytest.approx(0.0, abs=1e-15)
    # λ → ∞ gives the over-training limit
    g = Geometry(0.8, 0.7, 0.6, 0.1, -0.2, 0.3)
    assert float(ray_alignment(g, 1e9)) == pytest.approx(float(predict(g).overtrain_alignment),
                                                         abs=1e-8)
    assert float(ray_alignment(g, 0.0)) == pytest.approx(float(g.alphas[0]), abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(geometries())
def test_swapping_chosen_and_rejected_flips_kappa(g):
    assert float(kappa(g.reversed())) == pytest.approx(-float(kappa(g)), abs=1e-14)
    s, _ = signal_noise(g)
    assert float(signal_noise(g.reversed())[0]) == pytest.approx(-float(s), abs=1e-14)


def test_vectorised_over_parameters():
    a0 = np.array([0.7, 0.8, 0.9])
    k = kappa(Geometry(a0[:, None], 0.68, np.array([0.55, 0.6])))
    assert k.shape == (3, 2)
    for i in range(3):
        for j, ar in enumerate([0.55, 0.6]):
            assert k[i, j] == pytest.approx(float(kappa(Geometry(a0[i], 0.68, ar))))


def test_population_gradient_is_stein(rng):
    """E[½(y_c − y_r) x] = (θ̂_c − θ̂_r)/√(2π) (Stein's lemma), coordinate by coordinate."""
    g = Geometry(0.8, 0.7, 0.6, 0.2, -0.1, 0.3)
    v = vectors(g, 6)
    n = 400_000
    x = rng.standard_normal((n, 6))
    m = 0.5 * (np.sign(x @ v[2]) - np.sign(x @ v[3]))
    samples = m[:, None] * x
    est, se = samples.mean(0), samples.std(0) / np.sqrt(n)
    target = (v[2] - v[3]) / np.sqrt(2 * np.pi)
    for j in range(6):
        assert_within_se(est[j], target[j], se[j], what=f"gradient coordinate {j}")
    assert gram_matrix(g).shape == (4, 4)
