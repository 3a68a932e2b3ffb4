import numpy as np
import pytest
from conftest import assert_within_se
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deltatheory import (
    DeltaTheoryError,
    Geometry,
    accuracy_to_alignment,
    alignment_to_accuracy,
    gram_matrix,
    random_overlaps,
    vectors,
)

acc = st.floats(0.5001, 0.9999)


@given(acc)
def test_accuracy_alignment_round_trip(a):
    assert alignment_to_accuracy(accuracy_to_alignment(a)) == pytest.approx(a, abs=1e-12)


def test_known_values():
    np.testing.assert_allclose(accuracy_to_alignment([0.8, 0.7, 0.6]),
                               [0.809017, 0.587785, 0.309017], atol=1e-6)


def test_accuracy_is_the_gaussian_agreement_rate(rng):
    """Monte Carlo: sign⟨θ,x⟩ agrees with sign⟨θ*,x⟩ on a fraction 1 − arccos(α)/π of inputs."""
    v = vectors(Geometry(0.8, 0.7, 0.6, 0.2, -0.3, 0.1), 6)
    x = rng.standard_normal((200_000, 6))
    labels = np.sign(x @ v.T)
    agree = (labels[:, 1:] == labels[:, :1]).mean(axis=0)
    for est, target in zip(agree, (0.8, 0.7, 0.6), strict=True):
        assert_within_se(est, target, np.sqrt(target * (1 - target) / len(x)), what="accuracy")
    # pairwise disagreement = angle / π (the bridge to measured models)
    g = gram_matrix(Geometry(0.8, 0.7, 0.6, 0.2, -0.3, 0.1))
    dis = (labels[:, 2] != labels[:, 3]).mean()
    p = np.arccos(g[2, 3]) / np.pi
    assert_within_se(dis, p, np.sqrt(p * (1 - p) / len(x)), what="disagreement")


@settings(max_examples=50, deadline=None)
@given(acc, acc, acc, st.floats(-0.6, 0.6), st.floats(-0.6, 0.6), st.floats(-0.6, 0.6),
       st.integers(4, 30))
def test_vectors_realise_the_gram_matrix(a0, ac, ar, r1, r2, r3, d):
    try:
        g = Geometry(a0, ac, ar, r1, r2, r3)
    except DeltaTheoryError:
        assume(False)  # an impossible geometry is not a passing example
    v = vectors(g, d)
    np.testing.assert_allclose(v @ v.T, gram_matrix(g), atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-12)


def test_impossible_overlaps_rejected():
    with pytest.raises(DeltaTheoryError, match="impossible"):
        Geometry(0.8, 0.7, 0.6, 0.99, -0.99, 0.0)


def test_dimension_too_small_for_overlaps():
    with pytest.raises(DeltaTheoryError, match="too small"):
        vectors(Geometry(0.8, 0.7, 0.6), 3)  # three orthogonal error directions need d ≥ 4
    vectors(Geometry(0.8, 0.7, 0.6, 1.0, 1.0, 1.0), 3)  # one shared error direction fits


@pytest.mark.parametrize("bad", [0.5, 1.0, 1.2, float("nan")])
def test_bad_accuracy(bad):
    with pytest.raises(DeltaTheoryError):
        Geometry(bad, 0.7, 0.6)


@pytest.mark.parametrize("d", [3, 4, 5, 12, 200])
def test_random_overlaps_law(d, rng):
    """Bartlett draws match explicit uniform vectors: mean 0, variance 1/(d−1), and ⟨u₀,u_c⟩²'s
    mean against the exact Beta law (E[T²] = 1/(d−1))."""
    n = 100_000
    ov = random_overlaps(d, n, rng)
    var = 1.0 / (d - 1)
    for j in range(3):
        assert_within_se(ov[:, j].mean(), 0.0, np.sqrt(var / n), what="mean overlap")
        sq = ov[:, j] ** 2
        assert_within_se(sq.mean(), var, sq.std() / np.sqrt(n), what="E overlap²")
    # pairs of overlaps are uncorrelated (rotation invariance)
    prod = ov[:, 0] * ov[:, 1]
    assert_within_se(prod.mean(), 0.0, prod.std() / np.sqrt(n), what="E[ρ0c ρ0r]")
