"""The bridge: labels in, geometry out. Validated on predictions simulated from known vectors."""

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

import deltatheory as dt
from deltatheory.bridge import (
    MIN_ITEMS,
    bridge,
    estimate,
    nearest_correlation,
    read_predictions,
)
from deltatheory.cli import app
from deltatheory.closed_forms import predict_from_gram
from deltatheory.errors import DeltaTheoryError

runner = CliRunner()
HEADER = ["truth", "student", "chosen", "rejected"]


def simulate_labels(g: dt.Geometry, n: int, rng) -> np.ndarray:
    """Labels sign⟨θ, x⟩ of (θ*, θ₀, θ_c, θ_r) on n Gaussian items (4 dimensions suffice)."""
    v = dt.vectors(g, 4)
    return (rng.standard_normal((n, 4)) @ v.T > 0).astype(int)


def write_csv(path, y, header=HEADER):
    lines = [",".join(header)] + [",".join(map(str, row)) for row in y]
    path.write_text("\n".join(lines) + "\n")
    return path


# Configurations with κ from clearly negative to clearly positive: orthogonal errors, shared
# errors (noise > signal), reversed pairs, a near-chance rejected teacher, a strong student.
CONFIGS = [
    dt.Geometry(0.8, 0.7, 0.6),
    dt.Geometry(0.8, 0.7, 0.6).reversed(),
    dt.Geometry(0.8, 0.7, 0.6, 0.6, -0.2, 0.1),
    dt.Geometry(0.8, 0.75, 0.55, 0.5, 0.0, 0.3),
    dt.Geometry(0.9, 0.65, 0.52, -0.3, 0.4, 0.2),
    dt.Geometry(0.85, 0.6, 0.7, 0.1, 0.5, 0.4),
    dt.Geometry(0.75, 0.7, 0.65, 0.3, 0.3, 0.6),
    dt.Geometry(0.95, 0.8, 0.6, 0.2, -0.1, 0.0),
]


def test_configs_span_both_signs_of_kappa():
    k = [float(dt.kappa(g)) for g in CONFIGS]
    assert min(k) < -0.05 and max(k) > 0.05


COVERAGE_REPS = 50  # simulated data sets per configuration


@pytest.fixture(scope="module")
def coverage_runs():
    """κ, its estimate and its 95 % bootstrap CI on 50 simulated data sets per configuration:
    one row (configuration, κ, estimate, low, high) per data set (~1 s in all)."""
    rng = np.random.default_rng(2024)
    rows = []
    for c, g in enumerate(CONFIGS):
        k = float(dt.kappa(g))
        for _ in range(COVERAGE_REPS):
            r = estimate(simulate_labels(g, 3000, rng), bootstrap=400,
                         seed=int(rng.integers(2**31)))
            rows.append((c, k, r.kappa, *r.kappa_ci95))
    return np.array(rows)


def test_bridge_recovers_kappa_within_its_ci_across_configurations(coverage_runs):
    """Coverage of the 95 % bootstrap CI over 8 configurations × 50 simulated data sets.

    Both bounds are 0.95 ± 3 SE of a binomial proportion over 400 trials (0.917 and 0.983): a
    wrong mapping from disagreements to angles (e.g. cos D instead of cos πD) gives coverage
    near 0; intervals about 1.2 times too wide cover more than 0.983 (a tighter check of
    the width is the next test).
    """
    c, k, est, lo, hi = coverage_runs.T
    for j in range(len(CONFIGS)):
        e, kj = est[c == j], k[c == j][0]
        # the point estimate is unbiased to within 4 standard errors of the mean of 50 estimates
        assert abs(e.mean() - kj) < 4 * e.std(ddof=1) / np.sqrt(len(e)), (CONFIGS[j], kj)
    coverage = float(np.mean((lo <= k) & (k <= hi)))
    se = np.sqrt(0.95 * 0.05 / len(k))
    assert 0.95 - 3 * se <= coverage <= 0.95 + 3 * se, coverage


def test_bridge_ci_width_matches_the_spread_of_the_estimate(coverage_runs):
    """The CI is no wider than the estimator's sampling spread warrants.

    With se = (high − low) / (2 · 1.96) from each data set's bootstrap, z = (estimate − κ)/se
    is close to N(0, 1) when the interval is right, so the mean of z² over the 400 data sets is
    1 with standard error √(2/400) ≈ 0.07 (measured over 40 other seeds: 1.035 ± 0.069).
    Intervals f times too wide scale it by 1/f²: the bound 1 − 3 SE ≈ 0.79 catches intervals
    about 1.15 times too wide, where coverage alone cannot tell 0.97 from 0.95. (Intervals too
    narrow fail the coverage test.)
    """
    _, k, est, lo, hi = coverage_runs.T
    z2 = ((est - k) / ((hi - lo) / (2 * 1.96))) ** 2
    assert z2.mean() >= 1 - 3 * np.sqrt(2 / len(z2)), z2.mean()


def test_p_improve_follows_the_sign_of_kappa_when_it_is_resolved():
    rng = np.random.default_rng(7)
    for g in (CONFIGS[0], CONFIGS[1]):
        r = estimate(simulate_labels(g, 20000, rng), bootstrap=1000)
        assert (r.p_improve > 0.99) == (float(dt.kappa(g)) > 0)
        assert (r.p_improve < 0.01) == (float(dt.kappa(g)) < 0)


def test_estimates_match_the_closed_forms_for_many_items():
    g = CONFIGS[2]
    r = estimate(simulate_labels(g, 400_000, np.random.default_rng(3)), bootstrap=200)
    p = dt.predict(g)
    se = (r.kappa_ci95[1] - r.kappa_ci95[0]) / (2 * 1.96)
    assert abs(r.kappa - float(p.kappa)) < 4 * se
    for m, a in zip(("student", "chosen", "rejected"), (g.student, g.chosen, g.rejected),
                    strict=True):
        assert r.accuracy[m] == pytest.approx(a, abs=4 * np.sqrt(a * (1 - a) / 400_000))
    assert not r.projected


def test_predict_from_gram_is_predict():
    g = CONFIGS[3]
    a, b = dt.predict(g), predict_from_gram(dt.gram_matrix(g))
    for f in ("kappa", "signal", "noise", "lambda_star", "best_alignment", "overtrain_alignment"):
        assert float(getattr(a, f)) == pytest.approx(float(getattr(b, f)), rel=1e-12, abs=1e-15)


def test_nearest_correlation_matches_highams_example():
    # Higham (2002), §5: the nearest correlation matrix to this A
    a = np.array([[1.0, 1, 0], [1, 1, 1], [0, 1, 1]])
    want = np.array([[1, 0.7607, 0.1573], [0.7607, 1, 0.7607], [0.1573, 0.7607, 1]])
    np.testing.assert_allclose(nearest_correlation(a), want, atol=1e-4)
    ok = dt.gram_matrix(CONFIGS[0])
    np.testing.assert_allclose(nearest_correlation(ok), ok, atol=1e-12)


def test_impossible_disagreements_are_projected_and_reported():
    # 60 items whose six disagreement rates are a metric (they always are) but whose angles
    # π·D admit no four unit vectors: cos(π·D) has a negative eigenvalue (found by search)
    counts = {0: 5, 2: 1, 3: 3, 6: 11, 7: 2, 8: 8, 12: 16, 14: 14}  # pattern 8t + 4s + 2c + r
    y = np.array([[(p >> b) & 1 for b in (3, 2, 1, 0)] for p, k in counts.items()
                  for _ in range(k)])
    d = [[np.mean(y[:, i] != y[:, j]) for j in range(4)] for i in range(4)]
    assert np.linalg.eigvalsh(np.cos(np.pi * np.array(d))).min() < -0.01
    r = estimate(y, bootstrap=200)
    assert r.projected and r.projection_distance > 0
    g = np.array(r.gram)
    assert np.linalg.eigvalsh(g).min() > -1e-8 and np.allclose(np.diag(g), 1)
    assert "projected" in r.summary()


def test_label_formats_are_equivalent(tmp_path):
    y = simulate_labels(CONFIGS[0], 60, np.random.default_rng(0))
    a = read_predictions(write_csv(tmp_path / "a.csv", y))
    words = {0: ["no", "false", "-1", "0"], 1: ["yes", "true", "+1", "1"]}
    rows = [{h: words[v][(i + j) % 4] for j, (h, v) in enumerate(zip(HEADER, row, strict=True))}
            for i, row in enumerate(y)]
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    b = read_predictions(tmp_path / "b.jsonl")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, y)


@pytest.mark.parametrize("case,match", [
    ("missing", "column 'student' (the student) is missing"),
    ("nonbinary", "label '2' is not binary"),
    ("few", f"too few for the bootstrap: the bridge needs at least {MIN_ITEMS}"),
    ("perfect", "the chosen never disagrees with the truth"),
    ("chance", "not above chance"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, case, match):
    rng = np.random.default_rng(1)
    y = simulate_labels(CONFIGS[0], 200, rng)
    header = HEADER
    if case == "missing":
        header = ["truth", "pupil", "chosen", "rejected"]
    elif case == "nonbinary":
        y[5, 2] = 2
    elif case == "few":
        y = y[:MIN_ITEMS - 1]
    elif case == "perfect":
        y[:, 2] = y[:, 0]
    elif case == "chance":
        y[:, 1] = 1 - y[:, 0]
    path = write_csv(tmp_path / "p.csv", y, header)
    with pytest.raises(DeltaTheoryError, match=re.escape(match)):
        read_predictions(path) if case in ("missing", "nonbinary") else estimate(
            read_predictions(path))
    res = runner.invoke(app, ["bridge", "--predictions", str(path)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert match.split(":")[0] in " ".join(res.output.split())


def test_cli_json_has_the_documented_keys(tmp_path):
    y = simulate_labels(CONFIGS[0], 300, np.random.default_rng(4))
    path = write_csv(tmp_path / "p.csv", y, ["t", "s", "c", "r"])
    res = runner.invoke(app, ["bridge", "--predictions", str(path), "--truth", "t", "--student",
                              "s", "--chosen", "c", "--rejected", "r", "--json",
                              "--bootstrap", "300"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    for key in ("accuracy", "alpha", "kappa", "kappa_ci95", "signal", "noise",
                "predicted_best_accuracy", "p_improve"):
        assert key in d, key
    assert set(d["accuracy"]) == {"student", "chosen", "rejected"}
    assert d["kappa"] == pytest.approx(d["signal"] - d["noise"], abs=1e-12)
    assert d["kappa_ci95"][0] <= d["kappa"] <= d["kappa_ci95"][1]
    text = runner.invoke(app, ["bridge", "--predictions", str(path), "--truth", "t",
                               "--student", "s", "--chosen", "c", "--rejected", "r"])
    assert text.exit_code == 0 and "P[kappa > 0]" in text.output


def test_shipped_measurement_file_runs(tmp_path):
    from importlib import resources

    path = resources.files("deltatheory").joinpath("data",
                                                   "ladder_study_smollm2_predictions.csv")
    res = runner.invoke(app, ["bridge", "--predictions", str(path), "--chosen", "prune-0.3",
                              "--rejected", "prune-0.42", "--json", "--bootstrap", "200"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["n_items"] >= MIN_ITEMS


def _bad_file(tmp_path, case):
    """A predictions file that is not usable text, or has no items."""
    text = "truth,student,chosen,rejected\n" + "1,1,0,1\n0,1,0,0\n" * 20
    suffix = ".jsonl" if case.startswith("jsonl") else ".csv"
    path = tmp_path / f"bad-{case}{suffix}"
    data = {
        "random-bytes": np.random.default_rng(0).bytes(512),
        "utf-16": text.encode("utf-16"),          # with a byte-order mark
        "utf-16-le": text.encode("utf-16-le"),    # without one: valid UTF-8 full of NULs
        "latin-1": (text + "1,0,0,1  # café\n").encode("latin-1"),
        "empty": b"",
        "blank": b"\n  \n",
        "bom-only": b"\xef\xbb\xbf",
        "header-only": b"truth,student,chosen,rejected\n",
        "jsonl-binary": np.random.default_rng(1).bytes(512),
        "jsonl-utf-16": b'{"truth": 1, "student": 1, "chosen": 0, "rejected": 1}\n'.decode(
            "ascii").encode("utf-16"),
        "jsonl-empty": b"",
    }[case]
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case, match", [
    ("random-bytes", "is not UTF-8 text"), ("utf-16", "is not UTF-8 text"),
    ("utf-16-le", "is not UTF-8 text"), ("latin-1", "is not UTF-8 text"),
    ("empty", "is empty"), ("blank", "is empty"), ("bom-only", "is empty"),
    ("header-only", "no items"), ("jsonl-binary", "is not UTF-8 text"),
    ("jsonl-utf-16", "is not UTF-8 text"), ("jsonl-empty", "is empty"),
])
def test_files_that_are_not_usable_text_are_one_line_errors(tmp_path, case, match):
    path = _bad_file(tmp_path, case)
    with pytest.raises(DeltaTheoryError, match=re.escape(match)) as err:
        read_predictions(path)
    msg = str(err.value)
    assert path.name in msg and "\n" not in msg, msg
    res = runner.invoke(app, ["bridge", "--predictions", str(path)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert path.name in "".join(res.output.split())


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    y = simulate_labels(CONFIGS[0], 60, np.random.default_rng(5))
    plain = write_csv(tmp_path / "plain.csv", y)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    np.testing.assert_array_equal(read_predictions(bom), read_predictions(plain))


@pytest.mark.parametrize("g", CONFIGS[:4])
def test_correctness_columns_give_the_binary_result(tmp_path, g):
    """Right/wrong per model (a generative verifiable task) instead of binary answers: on a
    binary task 'disagree' is 'exactly one is right', so every number is the same."""
    y = simulate_labels(g, 2000, np.random.default_rng(3))
    right = (y[:, 1:] == y[:, :1]).astype(int)
    binary = bridge(write_csv(tmp_path / "a.csv", y), bootstrap=300, seed=1)
    corr = bridge(write_csv(tmp_path / "c.csv", right, HEADER[1:]), correctness=True,
                  bootstrap=300, seed=1)
    assert corr.to_dict() == binary.to_dict()
    r = runner.invoke(app, ["bridge", "--predictions", str(tmp_path / "c.csv"), "--correctness",
                            "--bootstrap", "300", "--seed", "1", "--json"])
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)
    assert p["correctness"] and p["kappa"] == pytest.approx(binary.kappa)
    # without --correctness the same file lacks a truth column: a clear one-line error
    r = runner.invoke(app, ["bridge", "--predictions", str(tmp_path / "c.csv")])
    assert r.exit_code == 2 and "column 'truth'" in r.stderr
