"""``deltatheory`` command line: predict, threshold, simulate, check, figures, bridge.

Accuracies are fractions (0.8, not 80). Every command takes ``--json`` for machine output.
Bad input prints one line on stderr and exits with code 2.
"""

from __future__ import annotations

import json
import math
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .errors import DeltaTheoryError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help=__doc__)
check_app = typer.Typer(no_args_is_help=True, help="The toolkit's verdict on Theorem 6.1 and "
                        "Corollary 6.2 (SGD against the closed forms).")
app.add_typer(check_app, name="check")
out = Console()
err = Console(stderr=True)


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
OvC = Annotated[float, typer.Option("--overlap-chosen", help="⟨u₀,u_c⟩: student/chosen "
                                    "error-direction cosine.")]
OvR = Annotated[float, typer.Option("--overlap-rejected", help="⟨u₀,u_r⟩.")]
OvT = Annotated[float, typer.Option("--overlap-teachers", help="⟨u_c,u_r⟩.")]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
Quick = Annotated[bool, typer.Option("--quick", help="Small settings that finish in seconds.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed for all randomness.")]


def _fail(msg: str) -> None:
    err.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _emit(payload: dict, as_json: bool, render) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        render(payload)


def _kv_table(title: str, rows) -> Table:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    for k, v in rows:
        t.add_row(k, v)
    return t


def _pct(x: float) -> str:
    return "inf" if math.isinf(x) else f"{100 * x:.3f} %"


@app.command()
def predict(student: Student, chosen: Chosen, rejected: Rejected,
            dim: Annotated[int | None, typer.Option("--dim", help="Dimension d: adds the exact "
                                                    "P[C1] under random error directions.")] = None,
            overlap_chosen: OvC = 0.0, overlap_rejected: OvR = 0.0, overlap_teachers: OvT = 0.0,
            as_json: Json = False):
    """Closed forms for one triple: κ with its signal and noise, λ*, best and over-trained
    accuracy on the ray θ₀ + λ(θ̂_c − θ̂_r)."""
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
        if dim is not None:
            payload["dim"] = dim
            payload["p_c1"] = float(p_c1_exact(student, chosen, rejected, dim))
    except DeltaTheoryError as e:
        _fail(str(e))

    def render(p):
        rows = [("α student / chosen / rejected",
                 " / ".join(f"{p['alpha'][k]:.4f}" for k in ("student", "chosen", "rejected"))),
                ("signal", f"{p['signal']:.5f}"), ("noise", f"{p['noise']:.5f}"),
                ("κ = f′(0)", f"{p['kappa']:.5f}  ({'C1 holds' if p['c1'] else 'C1 fails'})"),
                ("λ*", f"{p['lambda_star']:.5f}"),
                ("best accuracy on the ray", _pct(p["best_accuracy"])),
                ("over-training limit", _pct(p["overtrain_accuracy"]))]
        if "p_c1" in p:
            rows.append((f"P[C1] at d={p['dim']} (exact)", f"{p['p_c1']:.6f}"))
        out.print(_kv_table("deltatheory predict", rows))

    _emit(payload, as_json, render)


@app.command()
def threshold(student: Student, chosen: Chosen, rejected: Rejected,
              quantile: Annotated[float, typer.Option("--quantile", help="Target P[C1], in "
                                                      "(0, 1).")] = 0.9,
              as_json: Json = False):
    """Smallest dimension d with exact P[C1] ≥ quantile under random error directions."""
    from .corollary import min_dimension

    try:
        d = min_dimension(student, chosen, rejected, quantile)
    except DeltaTheoryError as e:
        _fail(str(e))
    payload = {"student": student, "chosen": chosen, "rejected": rejected, "quantile": quantile,
               "d_min": d}
    _emit(payload, as_json, lambda p: out.print(
        f"smallest d with P[C1] ≥ {quantile}: [bold]{d}[/]"))


@app.command()
def simulate(student: Student, chosen: Chosen, rejected: Rejected,
             dim: Annotated[int, typer.Option("--dim", help="Dimension d ≥ 3.")] = 1000,
             loss: Annotated[Loss, typer.Option("--loss", help="Training loss.")] = Loss.dpo,
             control: Annotated[Control, typer.Option("--control")] = Control.none,
             lr: Annotated[float, typer.Option("--lr", help="Step size η.")] = 0.01,
             steps: Annotated[int, typer.Option("--steps", help="SGD steps T.")] = 100,
             batch: Annotated[int, typer.Option("--batch", help="Batch size B.")] = 64,
             trials: Annotated[int, typer.Option("--trials", help="Independent runs.")] = 1000,
             seed: Seed = 0,
             beta: Annotated[float, typer.Option("--beta", help="β of DPO and IPO.")] = 1.0,
             engine: Annotated[Engine, typer.Option("--engine")] = Engine.reduced,
             overlap_chosen: OvC = 0.0, overlap_rejected: OvR = 0.0,
             overlap_teachers: OvT = 0.0,
             random_overlaps: Annotated[bool, typer.Option(
                 "--random-overlaps", help="Uniform random error directions per trial.")] = False,
             records: Annotated[int | None, typer.Option(
                 "--records", help="Recorded steps besides 0 (default min(steps, 50)).")] = None,
             out_file: Annotated[Path | None, typer.Option(
                 "--out", help="Also write the result (with its configuration) to this JSON.")
             ] = None,
             as_json: Json = False):
    """Run SGD in the logistic model; report initial, final and best mean accuracy (95 % CI)."""
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
        with err.status(f"simulating {trials} trials × {steps} steps ({engine.value})…"):
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
            from ._io import write_json

            payload["curve"] = {"steps": res.steps.tolist(),
                                "mean_accuracy": res.accuracy.mean(0).tolist()}
            write_json(out_file, payload)
    except DeltaTheoryError as e:
        _fail(str(e))

    def render(p):
        def ci(o):
            return f"{_pct(o['mean'])}  [{_pct(o['ci95'][0])}, {_pct(o['ci95'][1])}]"

        rows = [("initial accuracy", ci(p["initial_accuracy"])),
                ("final accuracy", ci(p["final_accuracy"])),
                (f"best accuracy (step {p['best_step']})", ci(p["best_accuracy"])),
                ("improved fraction", f"{p['improved_fraction']:.3f}"),
                ("λ = ηT/√(2π)", f"{p['lambda']:.4f}")]
        if "predicted" in p:
            rows.append(("closed form: κ, λ*, best", "{:.4f}, {:.4f}, {}".format(
                p["predicted"]["kappa"], p["predicted"]["lambda_star"],
                _pct(p["predicted"]["best_accuracy"]))))
        out.print(_kv_table(f"deltatheory simulate ({p['seconds']} s)", rows))

    _emit(payload, as_json, render)


def _progress_runner(fn, quiet: bool, **kw):
    if quiet:
        return fn(**kw)
    with err.status("starting…") as status:
        return fn(progress=lambda msg: status.update(msg), **kw)


def _render_theorem(r: dict) -> None:
    t = Table(title="Theorem 6.1: does the student improve exactly when C1 holds?",
              title_justify="left")
    for col in ("config", "d", "κ", "λ", "theory", "SGD gain [95 % CI]", "reversed", "tied",
                "ok"):
        t.add_column(col, justify="left" if col == "config" else "right",
                     no_wrap=col != "config")
    for row in r["configs"]:
        m = row["measured_gain"]
        t.add_row(row["name"], str(row["dim"]), f"{row['kappa']:+.3f}",
                  f"{row['lambda']:.3f}" + ("*" if row["lambda_is_star"] else ""),
                  f"{100 * row['predicted_gain_at_lambda']:+.3f}",
                  f"{100 * m['mean']:+.3f} [{100 * m['ci95'][0]:+.3f}, {100 * m['ci95'][1]:+.3f}]",
                  f"{100 * row['reversed_gain']['mean']:+.3f}",
                  f"{100 * row['tied_gain']['mean']:+.3f}",
                  "yes" if row["agrees_with_theory"] else "[red]no[/]")
    out.print(t)
    out.print("gains in accuracy points at λ (λ* marked *; where C1 fails, a probe λ); theory = "
              "f(λ) − student; SGD uses n = samples/dim × d samples")
    e = r["exponent"]
    ci = e["slope_measured_ci95"]
    sgd = "n/a" if e["slope_measured"] is None else f"{e['slope_measured']:.3f}"
    out.print(f"best gain ∝ κ^p: closed form p = {e['slope_closed_form']:.3f}, SGD p = {sgd}"
              + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") + " (theory: 2 as κ → 0)")
    s = r["samples_per_dim"]
    t2 = Table(title=f"samples per dimension ({s['config']}, d={s['dim']}, λ*; predicted best "
               f"gain {100 * s['predicted_best_gain']:+.4f})", title_justify="left")
    for col in ("n/d", "gain (95 % CI)", "improved fraction"):
        t2.add_column(col, justify="right")
    for row in s["rows"]:
        g = row["gain"]
        t2.add_row(f"{row['samples_per_dim']:g}",
                   f"{100 * g['mean']:+.4f} [{100 * g['ci95'][0]:+.4f}, {100 * g['ci95'][1]:+.4f}]",
                   f"{g['improved_fraction']:.3f}")
    out.print(t2)


def _render_corollary(r: dict) -> None:
    t = Table(title=f"Corollary 6.2: P[C1] for {r['student']}/{r['chosen']}/{r['rejected']} "
              "with random error directions", title_justify="left")
    for col in ("d", "exact", "Gaussian", "Monte Carlo (± SE)", "SGD improves (± SE)"):
        t.add_column(col, justify="right")
    for row in r["rows"]:
        t.add_row(str(row["dim"]), f"{row['p_c1_exact']:.4f}", f"{row['p_c1_gaussian']:.4f}",
                  f"{row['p_c1_monte_carlo']:.4f} ± {row['p_c1_monte_carlo_se']:.4f}",
                  f"{row['sgd_improved_fraction']:.3f} ± {row['sgd_improved_fraction_se']:.3f}")
    out.print(t)
    pc = r["paper_claim"]
    out.print(f"exact smallest d with P[C1] ≥ {r['quantile']}: [bold]{r['d_min_exact']}[/]; "
              f"paper: \"{pc['statement']}\" → {'holds' if pc['holds'] else 'FAILS'} "
              f"(P = {pc['p_c1_at_2001']:.6f} at d = 2001; the bound is "
              f"{pc['conservative_by']:.0f}× the exact threshold)")


def _run_check(which: str, quick: bool, seed: int, out_dir: Path | None, as_json: bool,
               **kw) -> dict:
    from .checks import check_corollary, check_theorem

    fn = check_theorem if which == "theorem" else check_corollary
    t0 = time.perf_counter()
    try:
        if out_dir is not None:
            from ._io import ensure_writable

            ensure_writable(out_dir)
        result = _progress_runner(fn, as_json, quick=quick, seed=seed, **kw)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        if out_dir is not None:
            from ._io import write_json

            write_json(out_dir / f"check_{which}.json", result)
    except DeltaTheoryError as e:
        _fail(str(e))
    return result


OutDir = Annotated[Path | None, typer.Option("--out", help="Folder for check_*.json.")]


@check_app.command("theorem")
def check_theorem_cmd(quick: Quick = False, seed: Seed = 0, out_dir: OutDir = None,
                      as_json: Json = False):
    """Theorem 6.1: measured SGD gain vs κ, controls, the κ² law, samples per dimension."""
    r = _run_check("theorem", quick, seed, out_dir, as_json)
    _emit(r, as_json, _render_theorem)


@check_app.command("corollary")
def check_corollary_cmd(student: Annotated[float, typer.Option("--student-acc")] = 0.8,
                        chosen: Annotated[float, typer.Option("--chosen-acc")] = 0.7,
                        rejected: Annotated[float, typer.Option("--rejected-acc")] = 0.6,
                        quantile: Annotated[float, typer.Option("--quantile")] = 0.9,
                        quick: Quick = False, seed: Seed = 0, out_dir: OutDir = None,
                        as_json: Json = False):
    """Corollary 6.2: P[C1] against d (exact, Gaussian, Monte Carlo, SGD), the exact threshold,
    and whether the paper's "d > 2000 suffices for 90 % of pairs" holds."""
    r = _run_check("corollary", quick, seed, out_dir, as_json, student=student, chosen=chosen,
                   rejected=rejected, quantile=quantile)
    _emit(r, as_json, _render_corollary)


@check_app.command("all")
def check_all_cmd(quick: Quick = False, seed: Seed = 0,
                  out_dir: Annotated[Path, typer.Option("--out", help="Folder for the results.")
                                     ] = Path("results"),
                  as_json: Json = False):
    """Both checks on the built-in defaults; writes results/check_*.json (the main job)."""
    th = _run_check("theorem", quick, seed, out_dir, as_json)
    co = _run_check("corollary", quick, seed, out_dir, as_json)
    if as_json:
        _emit({"theorem": th, "corollary": co}, True, None)
    else:
        _render_theorem(th)
        _render_corollary(co)
        out.print(f"results written to {out_dir}/check_theorem.json and check_corollary.json")


@app.command("figures")
def figures_cmd(quick: Quick = False, seed: Seed = 0,
                out_dir: Annotated[Path, typer.Option("--out", help="Folder for the figures.")
                                   ] = Path("results/figures"),
                only: Annotated[list[str] | None, typer.Option(
                    "--only", help="Regenerate only this figure (repeatable), e.g. fig1_ray.")
                ] = None,
                as_json: Json = False):
    """Regenerate every theory figure: NAME.png, NAME.pdf and NAME.json (the numbers plotted,
    with their settings) per figure. --quick takes well under a minute in all."""
    try:
        import figures
        from deltatheory.figures._common import make
    except ImportError:  # pragma: no cover - only when installed without the figures package
        _fail("the figures package is not installed: reinstall deltatheory from its repository")
    names = list(only) if only else list(figures.FIGURES)
    from ._io import ensure_writable

    try:
        for name in names:
            figures.load(name)
        ensure_writable(out_dir)
    except DeltaTheoryError as e:
        _fail(str(e))
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    done = {}
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=err, disable=as_json, transient=True) as bar:
        task = bar.add_task("figures", total=len(names))
        for name in names:
            bar.update(task, description=f"figures: {name}")
            try:
                data = make(figures.load(name), out_dir, quick=quick, seed=seed)
            except DeltaTheoryError as e:
                _fail(str(e))
            done[name] = {"title": data["title"], "seconds": data["seconds"],
                          "files": [str(out_dir / f"{name}.{ext}") for ext in
                                    ("png", "pdf", "json")]}
            bar.advance(task)

    def render(p):
        t = Table(title=f"figures written to {out_dir}", title_justify="left")
        for col in ("figure", "title", "seconds"):
            t.add_column(col, justify="right" if col == "seconds" else "left")
        for name, row in p["figures"].items():
            t.add_row(name, row["title"], f"{row['seconds']:.1f}")
        out.print(t)

    _emit({"out": str(out_dir), "quick": quick, "seed": seed, "figures": done}, as_json, render)


@app.command("bridge")
def bridge_cmd(
        predictions: Annotated[Path, typer.Option(
            "--predictions", help="CSV or JSONL, one row per binary item: the truth's and each "
            "model's label (0/1, ±1, true/false, yes/no).")],
        truth: Annotated[str, typer.Option(help="Column of the true labels.")] = "truth",
        student: Annotated[str, typer.Option(help="Column of the student's labels.")] = "student",
        chosen: Annotated[str, typer.Option(help="Column of the chosen teacher's labels.")]
        = "chosen",
        rejected: Annotated[str, typer.Option(help="Column of the rejected teacher's labels.")]
        = "rejected",
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
        seed: Seed = 0, as_json: Json = False):
    """Will this weak pair help? Place measured models in the theory's geometry.

    Disagreement rates on shared binary items give the angles between the four models (under
    Gaussian inputs, angle = π × disagreement), hence α's, κ = signal − noise, λ* and the
    predicted best accuracy, with bootstrap 95 % CIs and P[κ > 0].
    """
    from .bridge import bridge

    try:
        r = bridge(predictions, truth=truth, student=student, chosen=chosen, rejected=rejected,
                   bootstrap=bootstrap, seed=seed)
    except DeltaTheoryError as e:
        _fail(str(e))
    payload = {"predictions": str(predictions),
               "columns": {"truth": truth, "student": student, "chosen": chosen,
                           "rejected": rejected}, **r.to_dict()}
    _emit(payload, as_json, lambda p: sys.stdout.write(r.summary() + "\n"))


def _add_llm() -> None:
    try:
        from deltatheory.llm.cli import app as llm_app
    except ImportError:  # pragma: no cover - installed without the llm package
        return
    app.add_typer(llm_app, name="llm")


_add_llm()


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
