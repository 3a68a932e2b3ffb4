"""The ``deltatheory`` command line: a thin shell.

The core commands (predict, threshold, simulate, check, bridge) live here; the companions
(``deltatheory.figures``, ``deltatheory.llm``) add theirs through the ``deltatheory.commands``
entry-point group (see pyproject.toml), so a missing companion is reported with the extra to
install instead of vanishing. Shared output helpers: :mod:`deltatheory._cli`.
"""

from __future__ import annotations

import sys
import time
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer

from ._cli import Json, Quick, Seed, emit, err, fail, kv_table, out, table
from .errors import DeltaTheoryError

HELP = ("The delta learning hypothesis in logistic regression: closed forms, an exact SGD "
        "simulator, and the checks of Theorem 6.1 and Corollary 6.2.\n\n"
        "Accuracies are fractions (0.8, not 80). Every command takes --json for machine output. "
        "Bad input prints one line on stderr and exits with code 2.")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help=HELP)
check_app = typer.Typer(no_args_is_help=True, help="The toolkit's verdict on Theorem 6.1 and "
                        "Corollary 6.2 (SGD against the closed forms).")
app.add_typer(check_app, name="check")

# Companions known to the core: the entry point that registers them and the extra they need.
COMPANIONS = {
    "figures": ("deltatheory.figures.cli:register", "pip install deltatheory",
                "Regenerate the theory figures."),
    "llm": ("deltatheory.llm.cli:register", 'pip install torch==2.13.0 "deltatheory[llm]"',
            "Delta-learning DPO on real language models (the llm companion)."),
}


class Loss(str, Enum):
    pref = "pref"
    dpo = "dpo"
    ipo = "ipo"
    sft_chosen = "sft-chosen"
    sft_rejected = "sft-rejected"


class Control(str, Enum):
    none = "none"
    reversed = "reversed"
    tied = "tied"


class Engine(str, Enum):
    reduced = "reduced"
    full = "full"
    numpy = "numpy"


Student = Annotated[float, typer.Option("--student-acc", help="Student accuracy, in (0.5, 1).")]
Chosen = Annotated[float, typer.Option("--chosen-acc", help="Chosen teacher accuracy.")]
Rejected = Annotated[float, typer.Option("--rejected-acc", help="Rejected teacher accuracy.")]
OvC = Annotated[float, typer.Option("--overlap-chosen", help="Cosine between the student's and "
                                    "the chosen teacher's error directions.")]
OvR = Annotated[float, typer.Option("--overlap-rejected", help="Cosine between the student's "
                                    "and the rejected teacher's error directions.")]
OvT = Annotated[float, typer.Option("--overlap-teachers", help="Cosine between the two "
                                    "teachers' error directions.")]


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.3f} %"


def _num(x, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


@app.command(help="Closed forms for one triple: kappa with its signal and noise, lambda*, and "
             "the best and the over-trained accuracy on the ray theta0 + lambda (chosen - "
             "rejected).")
def predict(student: Student, chosen: Chosen, rejected: Rejected,
            dim: Annotated[int | None, typer.Option("--dim", help="Dimension d: adds the exact "
                                                    "P[C1] under random error directions.")] = None,
            overlap_chosen: OvC = 0.0, overlap_rejected: OvR = 0.0, overlap_teachers: OvT = 0.0,
            as_json: Json = False):
    from .closed_forms import predict as _predict
    from .corollary import p_c1_exact
    from .geometry import Geometry

    try:
        g = Geometry(student, chosen, rejected, overlap_chosen, overlap_rejected,
                     overlap_teachers)
        p = _predict(g)
        payload = {
            "alpha": {"student": float(p.alpha_student), "chosen": float(p.alpha_chosen),
                      "rejected": float(p.alpha_rejected)},
            "signal": float(p.signal), "noise": float(p.noise), "kappa": float(p.kappa),
            "c1": bool(p.kappa > 0),
            "lambda_star": float(p.lambda_star),
            "best_accuracy": float(p.best_accuracy),
            "overtrain_accuracy": float(p.overtrain_accuracy),
        }
        if payload["lambda_star"] == float("inf"):
            payload["lambda_star"] = None
            payload["lambda_star_why"] = ("infinite: accuracy rises all along the ray, so the "
                                          "best point is the over-training limit")
        if dim is not None:
            payload["dim"] = dim
            payload["p_c1"] = float(p_c1_exact(student, chosen, rejected, dim))
    except DeltaTheoryError as e:
        fail(str(e))

    def render(p):
        lam = "inf (the over-training limit is best)" if p["lambda_star"] is None else (
            f"{p['lambda_star']:.5f}")
        rows = [("alpha student / chosen / rejected",
                 " / ".join(f"{p['alpha'][k]:.4f}" for k in ("student", "chosen", "rejected"))),
                ("signal", f"{p['signal']:.5f}"), ("noise", f"{p['noise']:.5f}"),
                ("kappa = f'(0)", f"{p['kappa']:.5f}  ({'C1 holds' if p['c1'] else 'C1 fails'})"),
                ("lambda*", lam),
                ("best accuracy on the ray", _pct(p["best_accuracy"])),
                ("over-training limit", _pct(p["overtrain_accuracy"]))]
        if "p_c1" in p:
            rows.append((f"P[C1] at d={p['dim']} (exact)", f"{p['p_c1']:.6f}"))
        out.print(kv_table("deltatheory predict", rows))

    emit(payload, as_json, render)


@app.command(help="Smallest dimension d with exact P[C1] >= quantile under random error "
             "directions.")
def threshold(student: Student, chosen: Chosen, rejected: Rejected,
              quantile: Annotated[float, typer.Option("--quantile", help="Target P[C1], in "
                                                      "(0, 1).")] = 0.9,
              as_json: Json = False):
    from .corollary import min_dimension

    try:
        d = min_dimension(student, chosen, rejected, quantile)
    except DeltaTheoryError as e:
        fail(str(e))
    payload = {"student": student, "chosen": chosen, "rejected": rejected, "quantile": quantile,
               "d_min": d}
    emit(payload, as_json, lambda p: out.print(f"smallest d with P[C1] >= {quantile}: {d}"))


@app.command(help="Run SGD in the logistic model and report the initial, final and best mean "
             "accuracy with 95 % confidence intervals.")
def simulate(student: Student, chosen: Chosen, rejected: Rejected,
             dim: Annotated[int, typer.Option("--dim", help="Dimension d, at least 3.")] = 1000,
             loss: Annotated[Loss, typer.Option("--loss", help="Training loss.")] = Loss.dpo,
             control: Annotated[Control, typer.Option(
                 "--control", help="Control: reversed swaps the teachers, tied gives no delta.")
             ] = Control.none,
             lr: Annotated[float, typer.Option("--lr", help="Step size eta.")] = 0.01,
             steps: Annotated[int, typer.Option("--steps", help="SGD steps T.")] = 100,
             batch: Annotated[int, typer.Option("--batch", help="Batch size B.")] = 64,
             trials: Annotated[int, typer.Option("--trials", help="Independent runs.")] = 1000,
             seed: Seed = 0,
             beta: Annotated[float, typer.Option("--beta", help="Beta of DPO and IPO.")] = 1.0,
             engine: Annotated[Engine, typer.Option(
                 "--engine", help="reduced is exact at any d; full and numpy hold d-dimensional "
                 "vectors.")] = Engine.reduced,
             overlap_chosen: OvC = 0.0, overlap_rejected: OvR = 0.0,
             overlap_teachers: OvT = 0.0,
             random_overlaps: Annotated[bool, typer.Option(
                 "--random-overlaps", help="Uniform random error directions per trial.")] = False,
             records: Annotated[int | None, typer.Option(
                 "--records", help="Recorded steps besides step 0 (default: min(steps, 50)).")
             ] = None,
             out_file: Annotated[Path | None, typer.Option(
                 "--out", help="Also write the result, with its configuration, to this JSON "
                 "file.")] = None,
             as_json: Json = False):
    from .closed_forms import lambda_from_sgd
    from .closed_forms import predict as _predict
    from .geometry import Geometry
    from .simulate import simulate as _simulate

    t0 = time.perf_counter()
    try:
        g = Geometry(student, chosen, rejected, overlap_chosen, overlap_rejected,
                     overlap_teachers)
        if out_file is not None:
            from ._io import ensure_writable

            ensure_writable(out_file.parent)
        with err.status(f"simulating {trials} trials x {steps} steps ({engine.value})..."):
            res = _simulate(g, dim, loss=loss.value, control=control.value, lr=lr, steps=steps,
                            batch=batch, trials=trials, seed=seed, beta=beta,
                            engine=engine.value, random_error_directions=random_overlaps,
                            records=records)
        payload = res.summary()
        payload["config"] = res.config
        payload["lambda"] = float(lambda_from_sgd(lr, steps))
        if not random_overlaps:
            pred = _predict(g)
            payload["predicted"] = {"kappa": float(pred.kappa),
                                    "lambda_star": float(pred.lambda_star),
                                    "best_accuracy": float(pred.best_accuracy)}
        payload["seconds"] = round(time.perf_counter() - t0, 3)
        if out_file is not None:
            from ._io import versions, write_json

            payload["versions"] = versions()
            payload["curve"] = {"steps": res.steps.tolist(),
                                "mean_accuracy": res.accuracy.mean(0).tolist()}
            write_json(out_file, payload)
    except DeltaTheoryError as e:
        fail(str(e))

    def render(p):
        def ci(o):
            return f"{_pct(o['mean'])}  [{_pct(o['ci95'][0])}, {_pct(o['ci95'][1])}]"

        rows = [("initial accuracy", ci(p["initial_accuracy"])),
                ("final accuracy", ci(p["final_accuracy"])),
                (f"best accuracy (step {p['best_step']})", ci(p["best_accuracy"])),
                ("improved fraction", f"{p['improved_fraction']:.3f}"),
                ("lambda = eta T / sqrt(2 pi)", f"{p['lambda']:.4f}")]
        if "predicted" in p:
            pr = p["predicted"]
            rows.append(("closed form: kappa, lambda*, best", "{:.4f}, {}, {}".format(
                pr["kappa"], _num(pr["lambda_star"], ".4f"), _pct(pr["best_accuracy"]))))
        out.print(kv_table(f"deltatheory simulate ({p['seconds']} s)", rows))

    emit(payload, as_json, render)


def _progress_runner(fn, quiet: bool, **kw):
    if quiet:
        return fn(**kw)
    with err.status("starting...") as status:
        return fn(progress=lambda msg: status.update(msg), **kw)


def render_theorem(r, console=None) -> None:
    """The Theorem 6.1 tables (fit 80 columns; numbers are never cut)."""
    from .checks import TheoremCheck

    console = console or out
    assert isinstance(r, TheoremCheck)
    t = table("Theorem 6.1: does the student improve exactly when C1 holds?",
              [("config", "text"), "d", "kappa", "lambda", "theory", "SGD gain +- CI",
               "rev.", "tied", ("agrees", "word")])
    for row in r.configs:
        m = row.measured_gain
        half = (m.ci95[1] - m.ci95[0]) / 2
        t.add_row(row.name, str(row.dim), f"{row.kappa:+.3f}",
                  f"{row.lam:.3f}" + ("*" if row.lambda_is_star else ""),
                  f"{100 * row.predicted_gain_at_lambda:+.3f}",
                  f"{100 * m.mean:+.3f} +- {100 * half:.3f}",
                  f"{100 * row.reversed_gain.mean:+.3f}", f"{100 * row.tied_gain.mean:+.3f}",
                  {"agrees": "yes", "disagrees": "NO"}.get(row.overall, row.overall))
    console.print(t)
    console.print("Gains in accuracy points at lambda (lambda* marked *; where C1 fails, a probe "
                  "lambda). theory = f(lambda) - student. +- is the half-width of the 95 % CI. "
                  "agrees: the CI resolves the sign the theory predicts, for the pair and its "
                  "reversed control, and the tied control does not move.", soft_wrap=False)
    e = r.exponent
    ci = e["slope_measured_ci95"]
    sgd = "n/a" if e["slope_measured"] is None else f"{e['slope_measured']:.3f}"
    console.print(f"best gain ~ kappa^p: closed form p = {e['slope_closed_form']:.3f}, SGD p = "
                  f"{sgd}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
                  + " (theory: 2 as kappa -> 0)")
    s = r.samples_per_dim
    t2 = table(f"Samples per dimension ({s['config']}, d = {s['dim']}, lambda*; predicted best "
               f"gain {100 * s['predicted_best_gain']:+.4f})", ["n/d", "gain [95 % CI]",
                                                               "improved fraction"])
    for row in s["rows"]:
        g = row["gain"]
        t2.add_row(f"{row['samples_per_dim']:g}",
                   f"{100 * g['mean']:+.4f} [{100 * g['ci95'][0]:+.4f}, {100 * g['ci95'][1]:+.4f}]",
                   f"{g['improved_fraction']:.3f}")
    console.print(t2)


def render_corollary(r, console=None) -> None:
    """The Corollary 6.2 table (fits 80 columns)."""
    console = console or out
    t = table(f"Corollary 6.2: P[C1] for {r.student}/{r.chosen}/{r.rejected} with random error "
              "directions", ["d", "exact", "Gaussian", "Monte Carlo +- SE", "SGD improves +- SE"])
    for row in r.rows:
        t.add_row(str(row.dim), f"{row.p_c1_exact:.4f}", f"{row.p_c1_gaussian:.4f}",
                  f"{row.p_c1_monte_carlo:.4f} +- {row.p_c1_monte_carlo_se:.4f}",
                  f"{row.sgd_improved_fraction:.3f} +- {row.sgd_improved_fraction_se:.3f}")
    console.print(t)
    pc = r.paper_claim
    console.print(f"exact smallest d with P[C1] >= {r.quantile}: {r.d_min_exact}; paper: "
                  f"\"{pc['statement']}\" -> {'holds' if pc['holds'] else 'FAILS'} "
                  f"(P = {pc['p_c1_at_2001']:.6f} at d = 2001; the bound is "
                  f"{pc['conservative_by']:.0f}x the exact threshold)")


def _run_check(which: str, quick: bool, seed: int, out_dir: Path | None, as_json: bool, **kw):
    from .checks import check_corollary, check_theorem

    fn = check_theorem if which == "theorem" else check_corollary
    t0 = time.perf_counter()
    try:
        if out_dir is not None:
            from ._io import ensure_writable

            ensure_writable(out_dir)
        result = _progress_runner(fn, as_json, quick=quick, seed=seed, **kw)
        payload = {**result.to_dict(), "seconds": round(time.perf_counter() - t0, 1)}
        if out_dir is not None:
            from ._io import versions, write_json

            payload["versions"] = versions()

            write_json(out_dir / f"check_{which}.json", payload)
    except DeltaTheoryError as e:
        fail(str(e))
    return result, payload


OutDir = Annotated[Path | None, typer.Option("--out", help="Folder for check_*.json.")]


@check_app.command("theorem", help="Theorem 6.1: measured SGD gain against kappa, the controls, "
                   "the kappa-squared law, and samples per dimension.")
def check_theorem_cmd(quick: Quick = False, seed: Seed = 0, out_dir: OutDir = None,
                      as_json: Json = False):
    r, payload = _run_check("theorem", quick, seed, out_dir, as_json)
    emit(payload, as_json, lambda _: render_theorem(r))


@check_app.command("corollary", help="Corollary 6.2: P[C1] against d (exact, Gaussian, Monte "
                   "Carlo, SGD), the exact threshold, and whether the paper's \"d > 2000 "
                   "suffices for 90 % of pairs\" holds.")
def check_corollary_cmd(student: Annotated[float, typer.Option("--student-acc")] = 0.8,
                        chosen: Annotated[float, typer.Option("--chosen-acc")] = 0.7,
                        rejected: Annotated[float, typer.Option("--rejected-acc")] = 0.6,
                        quantile: Annotated[float, typer.Option("--quantile")] = 0.9,
                        quick: Quick = False, seed: Seed = 0, out_dir: OutDir = None,
                        as_json: Json = False):
    r, payload = _run_check("corollary", quick, seed, out_dir, as_json, student=student,
                            chosen=chosen, rejected=rejected, quantile=quantile)
    emit(payload, as_json, lambda _: render_corollary(r))


@check_app.command("all", help="Both checks on the built-in defaults; writes "
                   "results/check_theorem.json and results/check_corollary.json (the main job).")
def check_all_cmd(quick: Quick = False, seed: Seed = 0,
                  out_dir: Annotated[Path, typer.Option("--out", help="Folder for the results.")
                                     ] = Path("results"),
                  as_json: Json = False):
    th, th_payload = _run_check("theorem", quick, seed, out_dir, as_json)
    co, co_payload = _run_check("corollary", quick, seed, out_dir, as_json)
    if as_json:
        emit({"theorem": th_payload, "corollary": co_payload}, True, None)
    else:
        render_theorem(th)
        render_corollary(co)
        out.print(f"results written to {out_dir}/check_theorem.json and check_corollary.json")


@app.command("bridge", help="Will this weak pair help? Place measured models in the theory's "
             "geometry.\n\nDisagreement rates on shared binary items give the angles between the "
             "four models (under Gaussian inputs, angle = pi x disagreement), hence the alphas, "
             "kappa = signal - noise, lambda* and the predicted best accuracy, with bootstrap "
             "95 % CIs and P(kappa > 0).\n\nThe labels come from a table (--predictions) or "
             "from lm-evaluation-harness per-sample logs (--log_samples), one file per model "
             "(--lm-eval-samples student=PATH chosen=PATH rejected=PATH), joined on doc_id: "
             "with three files the metric is each model's right/wrong (as --correctness); "
             "--truth-from-target or a fourth file (truth=PATH) gives a truth on a task with "
             "binary targets.")
def bridge_cmd(
        predictions: Annotated[Path | None, typer.Option(
            "--predictions", help="CSV or JSONL, one row per binary item: the truth's and each "
            "model's label (0/1, -1/+1, true/false, yes/no).")] = None,
        truth: Annotated[str, typer.Option(help="Column of the true labels.")] = "truth",
        student: Annotated[str, typer.Option(help="Column of the student's labels.")] = "student",
        chosen: Annotated[str, typer.Option(help="Column of the chosen teacher's labels.")]
        = "chosen",
        rejected: Annotated[str, typer.Option(help="Column of the rejected teacher's labels.")]
        = "rejected",
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
        correctness: Annotated[bool, typer.Option(
            "--correctness", help="The model columns say whether each model was right on the "
            "item (a generative verifiable task); no truth column is read.")] = False,
        lm_eval_samples: Annotated[list[str] | None, typer.Option(
            "--lm-eval-samples", metavar="ROLE=PATH",
            help="An lm-eval per-sample log (samples_TASK*.jsonl) and the model it is: student, "
            "chosen, rejected (all three needed) or truth. Repeat for each model.")] = None,
        metric: Annotated[str | None, typer.Option(
            "--metric", help="With --lm-eval-samples: the per-item 0/1 metric to read "
            "(default acc; give exact_match for a generation task).")] = None,
        filter_: Annotated[str | None, typer.Option(
            "--filter", help="With --lm-eval-samples: the lm-eval filter to read where a file "
            "logs several (e.g. GSM8K's strict-match).")] = None,
        truth_from_target: Annotated[bool, typer.Option(
            "--truth-from-target", help="With --lm-eval-samples: the truth is the task's "
            "target (binary targets: two choices); each model's label is the answer it "
            "gave.")] = False,
        seed: Seed = 0, as_json: Json = False):
    from .bridge import bridge

    if lm_eval_samples:
        return _bridge_lm_eval(predictions, (truth, student, chosen, rejected), correctness,
                               lm_eval_samples, metric, filter_, truth_from_target, bootstrap,
                               seed, as_json)
    if predictions is None:
        fail("give --predictions FILE, or --lm-eval-samples ROLE=PATH for student, chosen and "
             "rejected")
    for given, name in ((metric, "--metric"), (filter_, "--filter"),
                        (truth_from_target or None, "--truth-from-target")):
        if given is not None:
            fail(f"{name} reads lm-eval sample logs: it goes with --lm-eval-samples")
    try:
        r = bridge(predictions, truth=truth, student=student, chosen=chosen, rejected=rejected,
                   bootstrap=bootstrap, seed=seed, correctness=correctness)
    except DeltaTheoryError as e:
        fail(str(e))
    payload = {"predictions": str(predictions), "correctness": correctness,
               "columns": {"truth": None if correctness else truth, "student": student,
                           "chosen": chosen, "rejected": rejected}, **r.to_dict()}
    emit(payload, as_json, lambda p: sys.stdout.write(r.summary() + "\n"))


def _bridge_lm_eval(predictions, columns, correctness, specs, metric, filter_, truth_from_target,
                    bootstrap, seed, as_json):
    """``bridge --lm-eval-samples``: lm-eval per-sample logs in, the same result out."""
    from .bridge import bridge_lm_eval, parse_sample_specs

    if predictions is not None:
        fail("give --predictions or --lm-eval-samples, not both")
    if columns != ("truth", "student", "chosen", "rejected"):
        fail("--truth/--student/--chosen/--rejected name columns of --predictions; with "
             "--lm-eval-samples give ROLE=PATH, one file per model")
    try:
        paths = parse_sample_specs(specs)
        if correctness and (truth_from_target or "truth" in paths):
            raise DeltaTheoryError("--correctness reads no truth: drop "
                                   + ("--truth-from-target" if truth_from_target else
                                      "truth=PATH") + ", or --correctness")
        r, info = bridge_lm_eval(paths, metric=metric or "acc", filter=filter_,
                                 truth_from_target=truth_from_target, bootstrap=bootstrap,
                                 seed=seed)
    except DeltaTheoryError as e:
        fail(str(e))
    payload = {"lm_eval_samples": info["files"], "task": info["task"], "metric": info["metric"],
               "filter": info["filter"], "truth": info["truth"],
               "correctness": info["truth"] == "correctness", **r.to_dict()}
    truth = {"correctness": "none (each model's right/wrong, as --correctness)",
             "target": "the task's target", "model": f"the answers in {info['files'].get('truth')}"
             }[info["truth"]]
    head = (f"lm-eval samples: task {info['task'] or '(not in the file names)'}, metric "
            f"{info['metric']} (filter {info['filter']}), {info['n_items']} items joined on "
            f"doc_id; truth: {truth}")
    emit(payload, as_json, lambda p: sys.stdout.write(head + "\n" + r.summary() + "\n"))


@app.command("docs", help="Build the documentation site (MkDocs, strict: a warning, a failing "
             "notebook or a broken link fails it) into site/, or serve it with live reload. "
             "Needs the docs extra and a clone of the repository.")
def docs_cmd(
        serve: Annotated[bool, typer.Option("--serve", help="Serve the site with live reload "
                                            "instead of writing it.")] = False,
        site_dir: Annotated[Path, typer.Option("--out", help="Folder for the built site: a new "
                                               "or empty folder, or a previous build (replaced "
                                               "whole, only once the new one has built); inside "
                                               "the repository only site/ or below.")]
        = Path("site"),
        full: Annotated[bool, typer.Option("--full", help="Notebooks and figures at classroom "
                                           "and publication settings (minutes more).")] = False,
        dev_addr: Annotated[str, typer.Option("--dev-addr", help="Address to serve at.")]
        = "127.0.0.1:8000",
        as_json: Json = False):
    from . import docs

    try:
        if serve:
            raise typer.Exit(docs.serve(dev_addr=dev_addr, full=full))
        out_dir = site_dir.resolve()
        seconds = docs.build(out_dir, full=full)
        problems = docs.check_site(out_dir)
    except DeltaTheoryError as e:
        fail(str(e))
    if problems:
        fail(f"the built site has {len(problems)} broken internal link(s), e.g. {problems[0]}")
    emit({"site": str(out_dir), "seconds": round(seconds, 1), "full": full}, as_json,
         lambda p: out.print(f"site built in {p['seconds']:.0f} s: {p['site']}/index.html"))


def _missing(name: str, why: str):
    """A stand-in command for a companion that could not be loaded: says what to install."""
    entry, install, about = COMPANIONS[name]

    @app.command(name, help=f"{about} (not available: {why})", add_help_option=False,
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def stub(ctx: typer.Context):
        fail(f"the {name} companion is not available ({why}); install it with: {install}")

    return stub


def register_companions() -> None:
    """Add every companion's commands (entry-point group ``deltatheory.commands``)."""
    found = {ep.name: ep for ep in metadata.entry_points(group="deltatheory.commands")}
    for name in sorted(set(found) | set(COMPANIONS)):
        ep = found.get(name)
        if ep is None:
            _missing(name, "its entry point is not installed")
            continue
        try:
            ep.load()(app)
        except ImportError as exc:  # a companion whose own imports fail: say so, never vanish
            if name not in COMPANIONS:
                raise
            _missing(name, f"{type(exc).__name__}: {exc}")


register_companions()


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
