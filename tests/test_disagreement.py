"""The ``disagreement`` path of the reduced engine: its sampler against closed forms and rejection
sampling, and the engine against the numpy oracle and the ``all`` path, for every pair loss and
control, where the teachers disagree rarely and often.

Tolerances are standard errors (4 SE, :func:`conftest.assert_within_se`) or test p-values
(p > 1e-4 at a fixed seed); ``test_a_wrong_conditional_law_is_detected`` shows the engine-level
comparisons reject a sampler that is only slightly off.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_within_se
from scipy import stats

from deltatheory import Geometry, simulate
from deltatheory.engines import disagreement as D
from deltatheory.engines import reduced
from deltatheory.engines._common import record_steps
from deltatheory.geometry import gram_matrix
from deltatheory.losses import CONTROLS, LOSSES, apply_control, loss_derivative
from deltatheory.simulate import SimulationResult

OFTEN = Geometry(0.8, 0.7, 0.6, 0.2, -0.1, 0.3)        # teachers disagree on 36 % of inputs
RARELY = Geometry(0.8, 0.79, 0.78, 0.3, 0.3, 0.97)     # on 5 %
PHIS = [0.05 * np.pi, 0.5 * np.pi, 0.9 * np.pi, np.pi]


def _q(g):
    return float(np.arccos(gram_matrix(g)[2, 3]) / np.pi)


def test_the_geometries_disagree_rarely_and_often():
    assert 0.04 < _q(RARELY) < 0.06 and 0.3 < _q(OFTEN) < 0.4


# ---- the sampler

def _inputs(phi, n, seed=0):
    """n inputs given disagreement at angle φ, as float64 (a₁, a₂, η, σ)."""
    kd = jnp.array([7, seed], jnp.uint32)
    i = jnp.full(n, 3, jnp.uint32)
    l2 = 2 * jnp.arange(n, dtype=jnp.uint32)
    a1, a2, sigma = D.wedge_inputs(*D.words(kd, i, l2), jnp.float32(phi))
    eta = D.normal_pair(*D.words(kd, i, l2 + 1))
    return [np.asarray(x, np.float64) for x in (a1, a2, eta, sigma)]


@pytest.mark.parametrize("phi", PHIS)
def test_drawn_inputs_are_disagreements_with_the_drawn_margin(phi):
    a1, a2, _, sigma = _inputs(phi, 200_000)
    y_c = np.where(a1 >= 0, 1.0, -1.0)
    y_r = np.where(a1 * np.cos(phi) + a2 * np.sin(phi) >= 0, 1.0, -1.0)
    agree = np.mean(y_c == y_r)
    assert agree < 1e-4, agree                       # only float32 roundings on the arcs' ends
    m = 0.5 * (y_c - y_r)
    assert np.mean(m[y_c != y_r] == sigma[y_c != y_r]) == 1.0
    assert_within_se(np.mean(sigma), 0.0, 1 / np.sqrt(len(sigma)), what="fair arc sign")


@pytest.mark.parametrize("phi", PHIS)
def test_the_in_plane_law_matches_rejection_sampling_and_stein(phi):
    """Given disagreement: E[σ a] = √(π/2) (1 − cos φ, −sin φ)/φ (Stein's lemma divided by
    P[disagree] = φ/π), E ρ² = 2, and the same law as N(0, I₂) kept where the labels differ."""
    n = 200_000
    a1, a2, _, sigma = _inputs(phi, n, seed=1)
    target = np.sqrt(np.pi / 2) * np.array([1 - np.cos(phi), -np.sin(phi)]) / phi
    for k, x in enumerate((sigma * a1, sigma * a2)):
        assert_within_se(x.mean(), target[k], x.std() / np.sqrt(n), what=f"E[σ a{k + 1}]")
    r2 = a1**2 + a2**2
    assert_within_se(r2.mean(), 2.0, 2.0 / np.sqrt(n), what="E ρ²")
    g = np.random.default_rng(0).standard_normal((int(1.2e5 / (phi / np.pi)), 2))
    keep = (g[:, 0] >= 0) != (g[:, 0] * np.cos(phi) + g[:, 1] * np.sin(phi) >= 0)
    ref = g[keep]
    for k, x in enumerate((a1, a2)):
        assert stats.ks_2samp(x, ref[:, k]).pvalue > 1e-4, f"a{k + 1}"
    # the wedge angle ψ + π/2 = φU is uniform on [0, φ)
    psi = np.arctan2(sigma * a2, sigma * a1) + np.pi / 2
    assert stats.kstest(psi / phi, "uniform").pvalue > 1e-4


def test_eta_is_standard_normal_and_independent_of_the_plane():
    a1, a2, eta, sigma = _inputs(0.4 * np.pi, 200_000, seed=2)
    n = len(eta)
    assert_within_se(eta.mean(), 0.0, 1 / np.sqrt(n), what="E η")
    assert_within_se(eta.var(), 1.0, np.sqrt(2 / n), what="Var η")
    assert_within_se(np.mean(eta**4), 3.0, np.sqrt(96 / n), what="E η⁴")
    assert stats.kstest(eta, "norm").pvalue > 1e-4
    assert stats.kstest(np.abs(eta), stats.halfnorm.cdf).pvalue > 1e-4
    for x in (a1, a2, sigma, a1**2 + a2**2):
        c = np.corrcoef(eta, x)[0, 1]
        assert_within_se(c, 0.0, 1 / np.sqrt(n), what="corr(η, plane)")


@pytest.mark.parametrize("batch, q", [(64, 0.44), (16, 0.05), (200, 0.93), (1, 0.3)])
def test_counts_are_binomial(batch, q):
    hi, lo = D.binomial_table(batch, np.array([q]))                   # one row, shared
    f = (hi[0].astype(np.float64) + lo[0] / 2.0**32) / 2.0**32
    np.testing.assert_allclose(f, stats.binom.cdf(np.arange(batch), batch, q), atol=1e-12)
    n = 200_000
    kd = jnp.array([1, 2], jnp.uint32)
    w = D.words(kd, jnp.arange(n, dtype=jnp.uint32), D.STEP_WORDS)
    counts = np.asarray(D.count(*w, jnp.asarray(hi), jnp.asarray(lo)))
    sd = np.sqrt(batch * q * (1 - q))
    assert_within_se(counts.mean(), batch * q, sd / np.sqrt(n), what="E N")
    k = np.arange(batch + 1)
    expected = n * stats.binom.pmf(k, batch, q)
    observed = np.bincount(counts, minlength=batch + 1)
    ok = expected >= 5                                  # pool the thin tails into one cell
    obs = np.append(observed[ok], observed[~ok].sum())
    exp = np.append(expected[ok], expected[~ok].sum())
    obs, exp = obs[exp > 0], exp[exp > 0]
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-4


def test_counts_at_q_zero_and_one():
    w = D.words(jnp.array([1, 2], jnp.uint32), jnp.arange(1000, dtype=jnp.uint32),
                D.STEP_WORDS)
    for q, want in ((0.0, 0), (1.0, 8)):
        hi, lo = D.binomial_table(8, np.array([q]))
        got = np.asarray(D.count(*w, jnp.asarray(hi), jnp.asarray(lo)))
        assert np.all(got == want), q


@pytest.mark.parametrize("batch", [1, 2, 7, 64, 1024])
def test_count_bisects_to_the_number_of_thresholds_passed(batch):
    """N = #{k : U ≥ F(k)} (64-bit U), by bisection, with one table per word or one shared."""
    n = 4000
    rng = np.random.default_rng(batch)
    q = rng.uniform(0.0, 1.0, n)
    q[:3] = (0.0, 1.0, 0.5)
    hi, lo = D.binomial_table(batch, q)
    w_hi, w_lo = (rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32) for _ in "ab")
    w_hi[:8] = [0, 2**32 - 1, hi[2, 0], hi[2, 0], hi[2, -1], 0, 2**32 - 1, hi[7, 0]]
    w_lo[:8] = [0, 2**32 - 1, lo[2, 0], (int(lo[2, 0]) - 1) % 2**32, lo[2, -1], 0,
                2**32 - 1, lo[7, 0]]                     # at, and just below, a threshold
    u = w_hi.astype(object) * 2**32 + w_lo.astype(object)
    f = hi.astype(object) * 2**32 + lo.astype(object)
    want = np.sum(u[:, None] >= f, axis=1).astype(np.int64)
    got = np.asarray(D.count(jnp.asarray(w_hi), jnp.asarray(w_lo), jnp.asarray(hi),
                             jnp.asarray(lo)))
    np.testing.assert_array_equal(got, want)
    shared = np.asarray(D.count(jnp.asarray(w_hi), jnp.asarray(w_lo), jnp.asarray(hi[5:6]),
                                jnp.asarray(lo[5:6])))
    np.testing.assert_array_equal(shared, np.sum(u[:, None] >= f[5], axis=1))


@pytest.mark.parametrize("dof", [1, 2, 5, 37, 10**6])
def test_chi2_matches_its_law(dof):
    n = 100_000
    kd = jnp.array([5, dof % 2**32], jnp.uint32)
    i = jnp.arange(n, dtype=jnp.uint32)
    x = np.asarray(D.chi2(jnp.float32(dof), lambda j: D.words(kd, i, D.STEP_WORDS + 4 + j),
                          D.words(kd, i, D.STEP_WORDS + 3)[0]), np.float64)
    assert np.all(np.isfinite(x)) and np.all(x > 0)
    assert_within_se(x.mean(), dof, np.sqrt(2 * dof / n), what=f"E χ²_{dof}")
    var_se = np.sqrt((12 * dof * (dof + 4) - 4 * dof**2) / n)
    assert_within_se(x.var(), 2 * dof, var_se, what=f"Var χ²_{dof}")
    assert stats.kstest(x, stats.chi2(dof).cdf).pvalue > 1e-4


def test_chi2_of_zero_degrees_is_zero():
    w = D.words(jnp.array([1, 1], jnp.uint32), jnp.arange(10, dtype=jnp.uint32), D.STEP_WORDS)
    assert np.all(np.asarray(D.chi2(jnp.float32(0), lambda j: w, w[0])) == 0)


def test_plane_coordinates_keep_the_gram_matrix():
    from deltatheory.engines.reduced import coordinates

    for g in (OFTEN, RARELY, Geometry(0.8, 0.7, 0.6)):
        gram = gram_matrix(g)
        rows, phi = D.plane_coordinates(coordinates(gram, 4))
        np.testing.assert_allclose(rows @ rows.T, gram, atol=1e-12)
        np.testing.assert_allclose(rows[2], [1, 0, 0, 0], atol=1e-12)
        np.testing.assert_allclose(rows[3], [np.cos(phi), np.sin(phi), 0, 0], atol=1e-12)
        assert phi == pytest.approx(np.arccos(gram[2, 3]), abs=1e-12)


# ---- which losses and controls take the path, and why it is exact for them

@pytest.mark.parametrize("loss", D.PAIR_LOSSES)
def test_pair_losses_see_only_the_margin_of_disagreeing_inputs(loss):
    rng = np.random.default_rng(0)
    s, s_ref = rng.normal(size=(2, 50))
    for y in (-1.0, 1.0):                                # teachers agree: no gradient
        np.testing.assert_array_equal(loss_derivative(loss, s, s_ref, y, y, 1.7), 0.0)
    for m in (-1.0, 1.0):                                # disagree: a function of s − s_ref
        np.testing.assert_allclose(loss_derivative(loss, s, s_ref, m, -m, 1.7),
                                   loss_derivative(loss, s - s_ref, 0.0, m, -m, 1.7),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("control", CONTROLS)
def test_each_control_maps_the_margin_as_classified(control):
    """After the control, m' = sign·m with m = (y_c − y_r)/2 of the teachers' own labels: the
    inputs that carry a gradient are still (a subset of) the disagreeing ones. A control not
    classified draws every input."""
    if control not in D.CONTROL_SIGN:
        assert reduced.draw_path("dpo", control) == "all"
        return
    sign = D.CONTROL_SIGN[control]
    for y_c in (-1.0, 1.0):
        for y_r in (-1.0, 1.0):
            a, b = apply_control(np.array(y_c), np.array(y_r), control)
            assert 0.5 * (a - b) == sign * 0.5 * (y_c - y_r)


def test_the_path_of_each_loss_and_control():
    assert set(D.CONTROL_SIGN) == set(CONTROLS), "classify the new control in CONTROL_SIGN"
    for loss in LOSSES:
        for control in CONTROLS:
            pair = loss in D.PAIR_LOSSES and control in D.CONTROL_SIGN
            want = "disagreement" if pair else "all"
            assert reduced.draw_path(loss, control) == want
    assert D.label_sign("dpo", "a-control-not-classified") is None
    with pytest.raises(ValueError, match="every input"):
        reduced.run(gram_matrix(OFTEN), 10, loss="sft-chosen", control="none", lr=0.1, batch=4,
                    trials=2, seed=0, beta=1.0, steps_recorded=np.array([0, 1]),
                    draw="disagreement")


def test_sft_keeps_drawing_every_input():
    kw = dict(loss="sft-chosen", lr=0.1, steps=5, batch=8, trials=6, seed=3, records=5)
    res = simulate(OFTEN, 10, **kw)
    ref = reduced.run(gram_matrix(OFTEN), 10, loss="sft-chosen", control="none", lr=0.1,
                      batch=8, trials=6, seed=3, beta=1.0, steps_recorded=res.steps, draw="all")
    np.testing.assert_array_equal(res.alignment, ref)


def test_the_environment_can_force_every_input_for_timing(monkeypatch):
    kw = dict(loss="dpo", lr=0.1, steps=4, batch=8, trials=5, seed=3, records=4)
    default = simulate(OFTEN, 10, **kw).alignment
    monkeypatch.setenv(reduced.DRAW_ENV, "all")
    forced = simulate(OFTEN, 10, **kw).alignment
    ref = reduced.run(gram_matrix(OFTEN), 10, loss="dpo", control="none", lr=0.1, batch=8,
                      trials=5, seed=3, beta=1.0, steps_recorded=record_steps(4, 4), draw="all")
    np.testing.assert_array_equal(forced, ref)
    assert not np.array_equal(forced, default)


# ---- the engine against the numpy oracle and the `all` path

def _reduced(g, dim, draw, *, loss, control, lr, steps, batch, trials, seed, records, beta=1.0):
    rec = record_steps(steps, records)
    a = reduced.run(gram_matrix(g), dim, loss=loss, control=control, lr=lr, batch=batch,
                    trials=trials, seed=seed, beta=beta, steps_recorded=rec, draw=draw)
    return SimulationResult(steps=rec, alignment=a)


def _agree(a, b, what):
    """Same law: accuracy gains at every recorded step (Welch, 4 SE) and the fraction of trials
    improved at the end (two proportions, 4 SE). Returns the largest |z|."""
    ga = a.accuracy[:, 1:] - a.accuracy[:, :1]
    gb = b.accuracy[:, 1:] - b.accuracy[:, :1]
    z = []
    for k in range(ga.shape[1]):
        se = np.sqrt(ga[:, k].var(ddof=1) / len(ga) + gb[:, k].var(ddof=1) / len(gb))
        z.append(abs(ga[:, k].mean() - gb[:, k].mean()) / se)
        assert_within_se(ga[:, k].mean(), gb[:, k].mean(), se,
                         what=f"{what}: gain at step {a.steps[k + 1]}")
    fa, fb = np.mean(ga[:, -1] > 0), np.mean(gb[:, -1] > 0)
    p = (fa * len(ga) + fb * len(gb)) / (len(ga) + len(gb))
    se = np.sqrt(p * (1 - p) * (1 / len(ga) + 1 / len(gb)))
    if se > 0:
        assert_within_se(fa, fb, se, what=f"{what}: improved fraction")
    return max(z)


CASES = [(loss, control, name) for loss in D.PAIR_LOSSES for control in ("none", "reversed")
         for name in ("often", "rarely")]


@pytest.mark.parametrize("loss, control, name", CASES)
def test_disagreement_path_matches_the_numpy_oracle_and_the_all_path(loss, control, name):
    g = OFTEN if name == "often" else RARELY
    # rare disagreement: fewer inputs move the student, so a larger step and longer run
    lr, steps = (0.1, 24) if name == "often" else (0.5, 60)
    kw = dict(loss=loss, control=control, lr=lr, steps=steps, batch=16, records=3, beta=2.0)
    new = _reduced(g, 12, "auto", trials=2000, seed=1, **kw)
    old = _reduced(g, 12, "all", trials=2000, seed=2, **kw)
    ref = simulate(g, 12, engine="numpy", trials=1500, seed=3, **kw)
    _agree(new, ref, f"{loss}/{control}/{name}: disagreement vs numpy")
    _agree(new, old, f"{loss}/{control}/{name}: disagreement vs all")


@pytest.mark.parametrize("loss", D.PAIR_LOSSES)
def test_disagreement_path_matches_the_all_path_in_high_dimension(loss):
    """d = 10⁶ (only the reduced engine gets there): the χ² remainder and Gaussian off-plane
    sums at their largest. (IPO's step must stay below B/(2√(N d)) or both diverge.)"""
    lr = 0.002 if loss == "ipo" else 2.0
    kw = dict(loss=loss, control="none", lr=lr, steps=20, batch=32, records=2, trials=3000)
    _agree(_reduced(OFTEN, 10**6, "auto", seed=4, **kw),
           _reduced(OFTEN, 10**6, "all", seed=5, **kw), f"{loss}, d = 1e6")


@pytest.mark.parametrize("dim", [3, 4, 5])
def test_small_dimensions_match_the_numpy_oracle(dim):
    """d = 3, 4: nothing outside S (one or two off-plane coordinates); d = 5: r but χ²_0."""
    g = Geometry(0.8, 0.7, 0.6, 1.0, 1.0, 1.0) if dim == 3 else OFTEN
    kw = dict(loss="dpo", lr=0.2, steps=20, batch=8, records=2)
    _agree(simulate(g, dim, trials=2000, seed=6, **kw),
           simulate(g, dim, engine="numpy", trials=1500, seed=7, **kw), f"d={dim}")


def test_random_error_directions_match_the_numpy_oracle():
    """A φ per trial: each trial's counts and pages are its own."""
    kw = dict(loss="ipo", lr=0.1, steps=15, batch=16, records=2, random_error_directions=True)
    _agree(simulate(Geometry(0.8, 0.7, 0.6), 20, trials=2000, seed=8, **kw),
           simulate(Geometry(0.8, 0.7, 0.6), 20, engine="numpy", trials=1500, seed=9, **kw),
           "random error directions")


def test_large_batches_use_one_shared_table_and_match_the_all_path():
    assert 1500 > D.TABLE_MAX_BATCH
    kw = dict(loss="dpo", control="reversed", lr=0.5, steps=3, batch=1500, records=1,
              trials=1500)
    _agree(_reduced(OFTEN, 30, "auto", seed=10, **kw), _reduced(OFTEN, 30, "all", seed=11, **kw),
           "batch 1500")


def test_large_batches_with_a_geometry_per_trial_draw_every_input(monkeypatch):
    """Beyond the per-trial tables (φ varies by trial), the count would need a sampler that is
    not exactly binomial: the every-input path runs instead (same numbers as draw="all")."""
    from deltatheory.engines import reduced

    kw = dict(loss="ipo", lr=0.1, steps=2, batch=1100, records=1, trials=6,
              random_error_directions=True)
    auto = simulate(Geometry(0.8, 0.7, 0.6), 20, seed=3, **kw)
    monkeypatch.setenv(reduced.DRAW_ENV, "all")
    every = simulate(Geometry(0.8, 0.7, 0.6), 20, seed=3, **kw)
    np.testing.assert_array_equal(auto.alignment, every.alignment)


@pytest.mark.parametrize("name", ["often", "rarely"])
def test_tied_pairs_never_move_the_student(name):
    g = OFTEN if name == "often" else RARELY
    for loss in D.PAIR_LOSSES:
        res = simulate(g, 50, loss=loss, control="tied", lr=0.3, steps=10, batch=8, trials=20)
        np.testing.assert_array_equal(res.alignment,
                                      np.broadcast_to(res.alignment[:, :1], res.alignment.shape))
        np.testing.assert_allclose(res.accuracy[:, 0], g.student, rtol=0, atol=1e-6)


def test_teachers_that_never_disagree_never_move_the_student():
    g = Geometry(0.8, 0.7, 0.7, 0.2, 0.2, 1.0)              # θ_c = θ_r: φ = 0
    res = simulate(g, 10, loss="dpo", lr=0.3, steps=10, batch=8, trials=20)
    np.testing.assert_array_equal(res.alignment,
                                  np.broadcast_to(res.alignment[:, :1], res.alignment.shape))


def test_teachers_that_always_disagree_match_the_numpy_oracle():
    """θ_r = −θ_c (q = 1: every input is drawn; no accuracies of a Geometry reach it)."""
    from deltatheory.engines import numpy_engine

    vecs = np.zeros((4, 8))
    vecs[0, 0] = 1.0
    vecs[1, :2] = (0.8, 0.6)
    vecs[2, [0, 1, 2]] = (0.5, 0.5, np.sqrt(0.5))
    vecs[3] = -vecs[2]
    kw = dict(loss="dpo", control="none", lr=0.1, batch=16, beta=1.0,
              steps_recorded=record_steps(20, 2))
    new = reduced.run(vecs @ vecs.T, 8, trials=2000, seed=13, **kw)
    ref = numpy_engine.run(vecs, trials=1500, seed=14, **kw)
    rec = kw["steps_recorded"]
    _agree(SimulationResult(rec, new), SimulationResult(rec, ref), "q = 1")


def test_page_size_changes_a_trial_by_float32_rounding_only(monkeypatch):
    """Pages of 16 inputs split trials across pages; every trial keeps its numbers."""
    kw = dict(loss="dpo", lr=0.2, steps=8, batch=12, trials=7, seed=12, records=4)
    whole = simulate(OFTEN, 9, **kw).alignment
    monkeypatch.setattr(reduced, "_PAGE", 16)
    np.testing.assert_allclose(simulate(OFTEN, 9, **kw).alignment, whole, rtol=0,
                               atol=8 * 2.0**-23)


def test_a_wrong_conditional_law_is_detected(monkeypatch):
    """The comparison above has power: a sampler whose angle covers only the first 90 % of each
    arc (a plausible slip) is rejected at the settings of the `often` cases."""
    right = D.wedge_inputs

    def wrong(w0, w1, phi):
        return right(w0, w1, 0.9 * phi)

    kw = dict(loss="dpo", control="none", lr=0.1, steps=24, batch=16, records=3, beta=2.0)
    ref = _reduced(OFTEN, 12, "all", trials=2000, seed=2, **kw)
    monkeypatch.setattr(D, "wedge_inputs", wrong)
    reduced._run_chunk_disagreement.clear_cache()
    try:
        bad = _reduced(OFTEN, 12, "auto", trials=2000, seed=1, **kw)
    finally:
        reduced._run_chunk_disagreement.clear_cache()
    with pytest.raises(AssertionError, match="gain"):
        _agree(bad, ref, "wrong sampler")


# ---- the engine's state: the off-plane sums and the χ² remainder against closed forms

def _pref_state(g, dim, *, lr, batch, trials, seed, steps, dof=None):
    """(P, r) of the ``disagreement`` path after each of ``steps`` ``pref`` steps, and q."""
    width = min(4, dim)
    coords = reduced.coordinates(np.broadcast_to(gram_matrix(g), (trials, 4, 4)), width)
    rows, phi = D.plane_coordinates(coords)
    rows, phi = rows.astype(np.float32), phi.astype(np.float32)
    prob = (phi / np.float32(np.pi)).astype(np.float32)
    hi, lo = D.binomial_table(batch, prob[:1].astype(np.float64))
    root = reduced.jax.random.split(reduced.jax.random.key(seed, impl="threefry2x32"))[1]
    dof = np.float32(max(dim - width - 1, 0) if dof is None else dof)
    p, r = reduced._run_chunk_disagreement(
        root, jnp.uint32(0), *map(jnp.asarray, [rows, phi, prob, hi, lo]), jnp.float32(1.0),
        jnp.float32(lr), jnp.float32(1.0), dof, jnp.ones(steps, jnp.int32),
        loss="pref", batch=batch, page=16384, table=True, has_rest=dim > width, state=True)
    return np.asarray(p, np.float64), np.asarray(r, np.float64), float(prob[0])


def _check_pref_state(p, r, q, *, dim, lr, batch, what):
    """``pref``'s derivative is ±1 on each disagreeing input whatever θ is, so with
    s = η/B (step size over batch) and N ~ Binomial(B, q) inputs a step:

    * step 1 (Δ = 0): E r₁² = s²·Bq·(1 + (d − w − 1)) (one off-plane normal along r̂ plus the
      χ²_{d−w−1} remainder) and E‖P₁,off − θ₀,off‖² = s²·Bq·(w − 2);
    * every step: E‖θ_t,off‖² = ‖θ₀,off‖² + t·s²·Bq·(d − 2), θ_off = (P₃…P_w, r) — the
      projection that keeps the off-plane noise from counting the direction of Δ twice."""
    width = p.shape[-1]
    s2bq = (lr / batch) ** 2 * batch * q
    assert_within_se(np.mean(r[:, 1] ** 2), s2bq * (dim - width), np.std(r[:, 1] ** 2)
                     / np.sqrt(len(r)), what=f"{what}: E r₁²")
    moved = np.sum((p[:, 1, 2:] - p[:, 0, 2:]) ** 2, axis=1)
    assert_within_se(moved.mean(), s2bq * (width - 2), moved.std() / np.sqrt(len(moved)),
                     what=f"{what}: E‖P₁,off − θ₀,off‖²")
    off = np.sum(p[:, :, 2:] ** 2, axis=2) + r**2
    for t in range(1, off.shape[1]):
        assert_within_se(off[:, t].mean(), off[:, 0].mean() + t * s2bq * (dim - 2),
                         off[:, t].std() / np.sqrt(len(off)), what=f"{what}: E‖θ_{t},off‖²")


@pytest.mark.parametrize("dim", [4, 5, 10, 1000])
def test_off_plane_state_matches_its_closed_form(dim):
    """The state itself, not only the accuracy it implies: a slip in the χ² degrees of freedom
    or in the off-plane projection moves these means by whole multiples of s²·Bq."""
    kw = dict(lr=1.0, batch=16)
    p, r, q = _pref_state(OFTEN, dim, trials=20000, seed=21, steps=4, **kw)
    _check_pref_state(p, r, q, dim=dim, **kw, what=f"d={dim}")


def test_a_wrong_degree_of_freedom_is_detected():
    """The state check has power: the χ² remainder with one degree of freedom too many fails."""
    kw = dict(lr=1.0, batch=16)
    p, r, q = _pref_state(OFTEN, 10, trials=20000, seed=21, steps=4, dof=6, **kw)
    with pytest.raises(AssertionError, match="E r₁²"):
        _check_pref_state(p, r, q, dim=10, **kw, what="dof + 1")
