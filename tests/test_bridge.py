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
    bridge_lm_eval,
    estimate,
    nearest_correlation,
    read_lm_eval_samples,
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


# ---------------------------------------------------------------- lm-evaluation-harness samples
def sample_lines(right, targets, *, metric="acc", filter="none", n_choices=2, docs=None,
                 ids=None):
    """Lines as lm-eval's --log_samples writes them (a multiple-choice task unless
    n_choices=1): doc_id, doc, target, arguments (one request per choice), filter, the
    metric names, the hashes, and the metric as a top-level key."""
    ids = range(len(right)) if ids is None else ids
    out = []
    for i, ok, t in zip(ids, right, targets, strict=True):
        doc = (docs or {}).get(i, {"id": f"test-{i}", "question": f"What is {i} + 1?"})
        out.append({"doc_id": i, "doc": doc, "target": str(t),
                    "arguments": {f"gen_args_{k}": {"arg_0": "Q", "arg_1": f" choice {k}"}
                                  for k in range(n_choices)},
                    "resps": [[["-1.0", "False"]]] * n_choices, "filtered_resps": [],
                    "filter": filter, "metrics": [metric], "doc_hash": f"h{i}",
                    "prompt_hash": "p", "target_hash": "t", metric: float(ok)})
    return out


def write_samples(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def model_files(tmp_path, y, task="addition-choice", **kw):
    """student, chosen and rejected sample files of a binary multiple-choice task whose truth
    is ``y[:, 0]`` (target 0, the first choice, where the truth label is 1) and whose models
    answered ``y[:, 1:]``; each file's lines in another order (the join is on doc_id)."""
    targets = np.where(y[:, 0] == 1, 0, 1)
    rng = np.random.default_rng(0)
    paths = {}
    for m, role in enumerate(("student", "chosen", "rejected"), 1):
        lines = sample_lines(y[:, m] == y[:, 0], targets, **kw)
        lines = [lines[i] for i in rng.permutation(len(lines))]
        paths[role] = write_samples(tmp_path / role / f"samples_{task}_2026-12-05T10-11-12.5.jsonl",
                                    lines)
    return paths


def sample_args(paths):
    return [a for role, p in paths.items() for a in ("--lm-eval-samples", f"{role}={p}")]


@pytest.mark.parametrize("g", CONFIGS[:3])
def test_lm_eval_samples_give_the_labels_and_the_result_of_a_table(tmp_path, g):
    """Three sample files (each model's acc per item) give the correctness reading; the truth
    from the target gives back the models' binary answers themselves; both are the numbers
    of the same labels read from a table."""
    y = simulate_labels(g, 1500, np.random.default_rng(11))
    paths = model_files(tmp_path, y)
    table = bridge(write_csv(tmp_path / "y.csv", y), bootstrap=300, seed=2)
    labels, info = read_lm_eval_samples(paths, truth_from_target=True)
    np.testing.assert_array_equal(labels, y)
    assert info["task"] == "addition-choice" and info["truth"] == "target"
    assert info["n_items"] == len(y) and info["filter"] == "none"
    right, info = read_lm_eval_samples(paths)
    assert info["truth"] == "correctness"
    np.testing.assert_array_equal(right[:, 0], 1)
    np.testing.assert_array_equal(right[:, 1:], (y[:, 1:] == y[:, :1]).astype(int))
    for truth_from_target in (False, True):
        r, _ = bridge_lm_eval(paths, truth_from_target=truth_from_target, bootstrap=300, seed=2)
        assert r.to_dict() == table.to_dict()


def test_a_fourth_model_as_the_truth(tmp_path):
    """truth=PATH: a fourth model's answers (target when right, the other choice when wrong)
    stand for the truth, whatever the task's own targets are."""
    rng = np.random.default_rng(5)
    y = simulate_labels(CONFIGS[0], 800, rng)          # truth model, student, chosen, rejected
    target_label = rng.integers(0, 2, len(y))          # the task's own truth: unrelated
    targets = np.where(target_label == 1, 0, 1)
    paths = {}
    for m, role in enumerate(("truth", "student", "chosen", "rejected")):
        paths[role] = write_samples(tmp_path / f"{role}.jsonl",
                                    sample_lines(y[:, m] == target_label, targets))
    labels, info = read_lm_eval_samples(paths)
    np.testing.assert_array_equal(labels, y)
    assert info["truth"] == "model" and info["task"] is None  # file names say nothing
    r, _ = bridge_lm_eval(paths, bootstrap=300)
    assert r.to_dict() == estimate(y, bootstrap=300).to_dict()


def test_cli_reads_lm_eval_samples(tmp_path):
    y = simulate_labels(CONFIGS[0], 600, np.random.default_rng(8))
    paths = model_files(tmp_path, y)
    res = runner.invoke(app, ["bridge", *sample_args(paths), "--truth-from-target", "--json",
                              "--bootstrap", "300"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["task"] == "addition-choice" and d["metric"] == "acc" and d["truth"] == "target"
    assert d["lm_eval_samples"] == {r: str(p) for r, p in paths.items()}
    assert d["kappa"] == pytest.approx(estimate(y, bootstrap=300).kappa)
    text = runner.invoke(app, ["bridge", *sample_args(paths), "--bootstrap", "300"])
    assert text.exit_code == 0, text.output
    assert "task addition-choice, metric acc" in text.stdout and "P[kappa > 0]" in text.stdout
    assert "as --correctness" in text.stdout
    # --correctness is what three files mean: accepted, and the same numbers
    same = runner.invoke(app, ["bridge", *sample_args(paths), "--correctness", "--json",
                               "--bootstrap", "300"])
    assert json.loads(same.stdout)["kappa"] == d["kappa"]


def test_a_generation_metric_with_several_filters(tmp_path):
    """GSM8K-style logs: exact_match under two filters, one line per (item, filter); --filter
    picks one, and without it the choice is refused."""
    rng = np.random.default_rng(9)
    y = simulate_labels(CONFIGS[0], 300, rng)
    loose = (y[:, 1:] == y[:, :1]) | (rng.random((len(y), 3)) < 0.3)   # flexible: more right
    paths = {}
    for m, role in enumerate(("student", "chosen", "rejected")):
        strict = sample_lines(y[:, m + 1] == y[:, 0], [f"{i * 7}" for i in range(len(y))],
                              metric="exact_match", filter="strict-match", n_choices=1)
        flex = sample_lines(loose[:, m], [f"{i * 7}" for i in range(len(y))],
                            metric="exact_match", filter="flexible-extract", n_choices=1)
        paths[role] = write_samples(tmp_path / f"samples_gsm8k_{role}.jsonl", strict + flex)
    # names a user chose ("samples_gsm8k_student.jsonl") are not read as task names
    a, info = read_lm_eval_samples(paths, metric="exact_match", filter="strict-match")
    assert info["task"] is None
    np.testing.assert_array_equal(a[:, 1:], (y[:, 1:] == y[:, :1]).astype(int))
    b, _ = read_lm_eval_samples(paths, metric="exact_match", filter="flexible-extract")
    np.testing.assert_array_equal(b[:, 1:], loose.astype(int))
    assert info["filter"] == "strict-match"
    res = runner.invoke(app, ["bridge", *sample_args(paths), "--metric", "exact_match",
                              "--filter", "strict-match", "--json", "--bootstrap", "200"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["kappa"] == pytest.approx(estimate(y, bootstrap=200).kappa)


def test_rendered_fields_are_not_compared(tmp_path):
    """The project's lm-eval documents carry each model's own rendering of the item (its chat
    template) in rendered_* fields: models with other templates still join; any other
    difference in the document is refused."""
    y = simulate_labels(CONFIGS[0], 200, np.random.default_rng(2))
    targets = np.where(y[:, 0] == 1, 0, 1)
    paths = {}
    for m, role in enumerate(("student", "chosen", "rejected"), 1):
        docs = {i: {"id": f"test-{i}", "rendered_context": f"<{role}> What is {i} + 1?"}
                for i in range(len(y))}
        lines = sample_lines(y[:, m] == y[:, 0], targets, docs=docs)
        for x in lines:
            x["doc_hash"] = f"{role}-{x['doc_id']}"  # lm-eval's hash covers the rendering
        paths[role] = write_samples(tmp_path / f"{role}.jsonl", lines)
    labels, _ = read_lm_eval_samples(paths, truth_from_target=True)
    np.testing.assert_array_equal(labels, y)
    lines = [json.loads(x) for x in paths["chosen"].read_text().splitlines()]
    lines[7]["doc"]["id"] = "train-7"
    write_samples(paths["chosen"], lines)
    with pytest.raises(DeltaTheoryError, match="doc_id 7 is a different item"):
        read_lm_eval_samples(paths)


def _bad_samples(tmp_path, case):
    """(CLI arguments, expected message) for a broken set of sample files."""
    y = simulate_labels(CONFIGS[0], 200, np.random.default_rng(3))
    paths = model_files(tmp_path, y)
    extra = []

    def edit(role, fn):
        lines = [json.loads(x) for x in paths[role].read_text().splitlines()]
        write_samples(paths[role], fn(lines))

    if case == "missing-items":
        edit("chosen", lambda ls: [x for x in ls if x["doc_id"] not in (3, 50)])
        return paths, extra, "doc_id 3 is in the student's samples but not in the chosen's (2 "
    if case == "extra-items":
        edit("rejected", lambda ls: ls + [{**ls[0], "doc_id": 999}])
        return paths, extra, "doc_id 999 is in the rejected's samples but not in the student's"
    if case == "not-binary":
        edit("chosen", lambda ls: [{**x, "acc": 0.5} if x["doc_id"] == 4 else x for x in ls])
        return paths, extra, "metric 'acc' is 0.5, not 0 or 1"
    if case == "not-a-number":
        edit("student", lambda ls: [{**x, "acc": "yes"} if x["doc_id"] == 4 else x for x in ls])
        return paths, extra, "metric 'acc' is 'yes', not 0 or 1"
    if case == "task-names":
        paths["rejected"] = paths["rejected"].rename(
            paths["rejected"].with_name("samples_arithmetic_2026-12-05T10-11-12.5.jsonl"))
        return paths, extra, ("from different tasks: the student's is 'addition-choice', the "
                              "rejected's 'arithmetic'")
    if case == "targets":
        edit("chosen", lambda ls: [{**x, "target": "7"} if x["doc_id"] == 0 else x for x in ls])
        return paths, extra, "doc_id 0 has target"
    if case == "documents":
        edit("chosen", lambda ls: [{**x, "doc": {"id": "other"}} if x["doc_id"] == 2 else x
                                   for x in ls])
        return paths, extra, "doc_id 2 is a different item"
    if case == "no-metric":
        extra = ["--metric", "exact_match"]
        return paths, extra, "has no metric 'exact_match' (it logs: acc)"
    if case == "filters":
        edit("student", lambda ls: ls + [{**x, "filter": "other"} for x in ls])
        return paths, extra, "logs several filters (none, other): choose one with --filter"
    if case == "unknown-filter":
        extra = ["--filter", "strict-match"]
        return paths, extra, "has no filter 'strict-match' (it logs: none)"
    if case == "duplicate-item":
        edit("student", lambda ls: ls + [ls[0]])
        return paths, extra, "appears twice"
    if case == "not-samples":
        write_samples(paths["chosen"], [{"truth": 1, "student": 0}])
        return paths, extra, "has no doc_id: not a per-sample log of lm-eval"
    if case == "no-file":
        paths["rejected"] = tmp_path / "nowhere.jsonl"
        return paths, extra, "the rejected's samples file"
    if case == "empty":
        paths["student"].write_text("")
        return paths, extra, "is empty"
    if case == "four-choices":
        edit("student", lambda ls: [{**x, "arguments": {f"gen_args_{k}": {} for k in range(4)}}
                                    for x in ls])
        extra = ["--truth-from-target"]
        return paths, extra, "has 4 choices"
    if case == "many-targets":
        for role in paths:
            edit(role, lambda ls: [{**x, "arguments": {"gen_args_0": {}},
                                    "target": str(x["doc_id"])} for x in ls])
        extra = ["--truth-from-target"]
        return paths, extra, "the targets take 200 distinct values"
    if case == "same-file":
        paths["rejected"] = paths["chosen"]
        return paths, extra, "the chosen and the rejected are the same samples file"
    if case == "not-a-metric":
        edit("student", lambda ls: [{**x, "flag": 1} for x in ls])
        extra = ["--metric", "flag"]
        return paths, extra, "'flag' is a field but not one of the metrics it logs (acc)"
    if case == "list-doc-id":
        edit("chosen", lambda ls: [{**x, "doc_id": [x["doc_id"]]} if x["doc_id"] == 5 else x
                                   for x in ls])
        return paths, extra, "doc_id [5] must be a whole number or a string"
    if case == "folder":
        paths["rejected"] = tmp_path
        return paths, extra, "is a folder, not a file"
    if case == "missing-role":
        del paths["rejected"]
        return paths, extra, "needs the rejected"
    if case == "truth-twice":
        extra = ["--truth-from-target"]
        paths["truth"] = paths["student"]
        return paths, extra, "either a truth file (truth=PATH) or --truth-from-target"
    if case == "correctness-and-truth":
        extra = ["--truth-from-target", "--correctness"]
        return paths, extra, "--correctness reads no truth"
    if case == "with-predictions":
        extra = ["--predictions", str(write_csv(tmp_path / "p.csv", y))]
        return paths, extra, "not both"
    if case == "column-options":
        extra = ["--student", "s"]
        return paths, extra, "name columns of --predictions"
    raise AssertionError(case)


BAD_SAMPLE_CASES = ["missing-items", "extra-items", "not-binary", "not-a-number", "task-names",
                    "targets", "documents", "no-metric", "filters", "unknown-filter",
                    "duplicate-item", "not-samples", "no-file", "empty", "four-choices",
                    "many-targets", "same-file", "not-a-metric", "list-doc-id", "folder",
                    "missing-role", "truth-twice", "correctness-and-truth",
                    "with-predictions", "column-options"]


@pytest.mark.parametrize("case", BAD_SAMPLE_CASES)
def test_bad_lm_eval_samples_are_one_line_and_exit_2(tmp_path, case):
    paths, extra, match = _bad_samples(tmp_path, case)
    res = runner.invoke(app, ["bridge", *sample_args(paths), *extra, "--bootstrap", "200"])
    assert res.exit_code == 2, (case, res.output)
    assert "Traceback" not in res.output and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert match in " ".join(res.stderr.split()), res.stderr


@pytest.mark.parametrize("args, match", [
    ([], "give --predictions FILE, or --lm-eval-samples"),
    (["--lm-eval-samples", "student"], "must be ROLE=PATH"),
    (["--lm-eval-samples", "teacher=a.jsonl"], "role 'teacher' is not one of"),
    (["--lm-eval-samples", "student=a", "--lm-eval-samples", "student=b"], "the student twice"),
    (["--predictions", "p.csv", "--metric", "acc"], "--metric reads lm-eval sample logs"),
    (["--predictions", "p.csv", "--truth-from-target"], "--truth-from-target reads lm-eval"),
])
def test_bridge_source_options_are_checked(args, match):
    res = runner.invoke(app, ["bridge", *args])
    assert res.exit_code == 2 and match in " ".join(res.stderr.split()), res.output
    assert len(res.stderr.strip().splitlines()) == 1


def test_reading_samples_imports_neither_lm_eval_nor_torch(tmp_path):
    import subprocess
    import sys

    y = simulate_labels(CONFIGS[0], 100, np.random.default_rng(4))
    paths = model_files(tmp_path, y)
    code = ("import sys, json; import deltatheory; from deltatheory.bridge import bridge_lm_eval;"
            f"r, info = bridge_lm_eval({ {k: str(v) for k, v in paths.items()} !r}, "
            "bootstrap=100); heavy = [m for m in ('lm_eval', 'torch', 'transformers') "
            "if m in sys.modules]; print(json.dumps([info['n_items'], heavy]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == [100, []]
