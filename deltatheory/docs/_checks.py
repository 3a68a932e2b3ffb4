"""The checks page's tables and numbers, drawn from the shipped output of ``deltatheory check all``.

``docs/results/check_theorem.json`` and ``docs/results/check_corollary.json`` are what
``deltatheory check all --out docs/results`` (seed 0, full settings) wrote; the page marks its
paragraphs and tables with ``<!-- docs:checks NAME -->`` blocks and these functions render them,
so a number or a setting on the page is the one in the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from deltatheory.errors import DeltaTheoryError

__all__ = ["RESULTS", "load", "render", "TABLES"]

#: where the shipped results live, relative to the repository root
RESULTS = Path("docs") / "results"
#: the geometry ``check all`` runs Corollary 6.2 on (``check corollary`` can run others)
_COROLLARY = {"student": 0.8, "chosen": 0.7, "rejected": 0.6}


def load(root: Path, which: str) -> dict:
    """``check_<which>.json`` (``theorem`` or ``corollary``) of the repository at ``root``,
    refused unless it is a full run of ``check all`` at seed 0."""
    path = root / RESULTS / f"check_{which}.json"
    if not path.is_file():
        raise DeltaTheoryError(f"{path} is missing: run 'deltatheory check all --out "
                               f"{RESULTS}' from the repository root")
    d = json.loads(path.read_text(encoding="utf-8"))
    if d["settings"].get("quick") or d["settings"].get("seed") != 0:
        raise DeltaTheoryError(f"{path} is not a full run at seed 0 (settings "
                               f"{d['settings']}): the page shows the default check")
    if which == "corollary" and any(d.get(k) != v for k, v in _COROLLARY.items()):
        raise DeltaTheoryError(f"{path} is not check all's corollary (student/chosen/rejected "
                               f"{d.get('student')}/{d.get('chosen')}/{d.get('rejected')})")
    return d


def _pts(x: float, digits: int = 3) -> str:
    return f"{100 * x:+.{digits}f}"


def _pct(x: float) -> str:
    return f"{100 * x:g} %"


def _ci(g: dict, digits: int = 3) -> str:
    lo, hi = g["ci95"]
    return f"{_pts(g['mean'], digits)} [{_pts(lo, digits)}, {_pts(hi, digits)}]"


def _geometry(c: dict) -> str:
    accs = "/".join(f"{round(100 * c[k]):d}" for k in ("student", "chosen", "rejected"))
    ov = ", ".join(f"{x:g}" for x in c["overlaps"])
    return f"{accs}, ({ov})"


def theorem_setup(root: Path) -> str:
    """The paragraph that says what Theorem 6.1's table ran."""
    s = load(root, "theorem")["settings"]
    loss = {"pref": "Naive preference loss"}.get(s["loss"], f"Loss {s['loss']}")
    return (f"**Theorem 6.1.** {loss}, SGD on fresh Gaussian samples, n = "
            f"{s['samples_per_dim']}·d samples, {s['trials']} trials, at λ = λ* where C1 holds "
            f"and at a probe λ = {s['probe_lambda_when_c1_fails']:g} where it fails. Gains are "
            "in accuracy points; \"theory\" is f(λ) − f(0) on the ray.\n")


def theorem(root: Path) -> str:
    """Theorem 6.1's table: one row per configuration."""
    d = load(root, "theorem")
    lines = ["| student/chosen/rejected, overlaps (⟨u₀,u_c⟩, ⟨u₀,u_r⟩, ⟨u_c,u_r⟩) | d | κ | λ | "
             "theory | SGD gain [95 % CI] | reversed | tied | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in d["configs"]:
        lam = f"{c['lambda']:.3f}" + ("*" if c["lambda_is_star"] else "")
        lines.append(
            f"| {_geometry(c)} | {c['dim']} | {c['kappa']:+.3f} | {lam} | "
            f"{_pts(c['predicted_gain_at_lambda'])} | {_ci(c['measured_gain'])} | "
            f"{_pts(c['reversed_gain']['mean'])} | {_pts(c['tied_gain']['mean'])} | "
            f"{c['overall']} |")
    return "\n".join(lines) + "\n"


def _shortfall(held: list[dict]) -> str:
    """How the SGD gain compares with the ray's value where C1 holds: below it (where the CI
    says so), or not resolved from it."""
    below = [c for c in held if c["measured_gain"]["ci95"][1] < c["predicted_gain_at_lambda"]]
    if not below:
        return "The SGD gain is not resolved from the ray's value in any of them."
    short = [1 - c["measured_gain"]["mean"] / c["predicted_gain_at_lambda"] for c in below]
    span = (f"{100 * short[0]:.1f} %" if len(short) == 1 else
            f"{100 * min(short):.1f}–{100 * max(short):.1f} %")
    rest = len(held) - len(below)
    tail = (f"; in the other {rest} its CI covers the ray's value" if rest else "")
    return (f"In {len(below)} of the {len(held)} the SGD gain sits {span} below the ray's value "
            f"(its CI below it){tail}: the finite-sample cost, which shrinks as samples grow.")


def findings(root: Path) -> str:
    """The bullets under Theorem 6.1's table, with their numbers from the file."""
    d = load(root, "theorem")
    held = [c for c in d["configs"] if c["c1"]]
    first = d["configs"][0]
    e, s = d["exponent"], d["samples_per_dim"]
    verdicts = {c["overall"] for c in d["configs"]}
    every = ("The student improves in every configuration where C1 holds and gets worse in "
             "every one where it fails; the reversed control does the opposite and the tied "
             "control never moves." if verdicts == {"agrees"} else
             f"Not every configuration agrees with the theory (verdicts: "
             f"{', '.join(sorted(verdicts))}): see the table.")
    if e.get("slope_measured") is None:
        sgd = "not fitted for SGD (a measured gain was not positive)"
    elif e.get("slope_measured_ci95") is None:
        sgd = f"{e['slope_measured']:.3f} for SGD (too few positive bootstrap draws for a CI)"
    else:
        lo, hi = e["slope_measured_ci95"]
        sgd = f"{e['slope_measured']:.3f} [{lo:.3f}, {hi:.3f}] for SGD"
    chosen = e.get("chosen")
    varied = (f"chosen {_pct(min(chosen))} … {_pct(max(chosen))}, " if chosen else "")
    improve = ", ".join(
        f"{_pts(r['gain']['mean'])} at n/d = {r['samples_per_dim']:g} "
        f"({100 * r['gain']['improved_fraction']:.1f} % of runs improve)" for r in s["rows"])
    return "\n".join([
        f"- {every} {_shortfall(held)}",
        f"- The gains are small, as the theory says: {_pts(first['measured_gain']['mean'], 2)} "
        f"accuracy points for {first['name']} (d = {first['dim']}).",
        f"- **Θ(κ²):** over κ ∈ [{min(e['kappa']):.3f}, {max(e['kappa']):.3f}] ("
        + (f"student {_pct(e['student'])}, rejected {_pct(e['rejected'])}, "
           if "student" in e else "") +
        f"{varied}d = {e['dim']}, {e['samples_per_dim']} samples per dimension) the fitted "
        f"exponent of best gain against κ is {e['slope_closed_form']:.2f} for the closed form "
        f"and {sgd}; the closed form's exponent tends to 2 as κ → 0.",
        f"- **Samples per dimension** ({s['config']}, d = {s['dim']}, λ*): gain {improve} "
        f"(theory: {_pts(s['predicted_best_gain'])}). Theorem 6.1's \"enough samples\" is about "
        "n ≫ d.",
    ]) + "\n"


def corollary_setup(root: Path) -> str:
    """The paragraph that says what Corollary 6.2's table ran."""
    d = load(root, "corollary")
    s = d["settings"]
    return (f"**Corollary 6.2** (student {_pct(d['student'])}, teachers {_pct(d['chosen'])} and "
            f"{_pct(d['rejected'])}, random error directions). \"SGD improves\" is the fraction "
            f"of {s['sgd_trials']} random teacher pairs for which SGD with "
            f"{s['sgd_samples_per_dim']} samples per dimension, at the high-dimensional λ*, "
            f"actually improves the student; Monte Carlo P[C1] from {s['monte_carlo_samples']:,} "
            "draws.\n")


def corollary(root: Path) -> str:
    """Corollary 6.2's table: one row per dimension."""
    d = load(root, "corollary")
    lines = ["| d | P[C1] exact | Gaussian | Monte Carlo ± SE | SGD improves ± SE |",
             "|---|---|---|---|---|"]
    for r in d["rows"]:
        lines.append(f"| {r['dim']} | {r['p_c1_exact']:.4f} | {r['p_c1_gaussian']:.4f} | "
                     f"{r['p_c1_monte_carlo']:.4f} ± {r['p_c1_monte_carlo_se']:.4f} | "
                     f"{r['sgd_improved_fraction']:.3f} ± {r['sgd_improved_fraction_se']:.3f} |")
    return "\n".join(lines) + "\n"


def sgd_dimension(d: dict) -> int | None:
    """The smallest listed d at which SGD improved the student in at least the corollary's
    quantile of teacher pairs (None: at none)."""
    return next((r["dim"] for r in d["rows"] if r["sgd_improved_fraction"] >= d["quantile"]),
                None)


def corollary_findings(root: Path) -> str:
    """The paragraph under Corollary 6.2's table: the paper's bound, the exact threshold, and
    where finite-sample SGD gets there."""
    d = load(root, "corollary")
    claim, q = d["paper_claim"], d["quantile"]
    d_sgd = sgd_dimension(d)
    sgd = f"only from d ≈ {d_sgd}" if d_sgd is not None else "at none of the listed d"
    verdict = "**holds**, and is conservative" if claim["holds"] else "**does not hold**"
    return (f"The paper's \"{claim['statement']}\" {verdict}: the exact threshold for "
            f"P[C1] ≥ {q:g} is **d = {d['d_min_exact']}** (the paper's bound is "
            f"{claim['conservative_by']:.0f}× larger). But C1 is not the whole story: with a "
            f"fixed budget of {d['settings']['sgd_samples_per_dim']} samples per dimension, SGD "
            f"improves the student in {100 * q:.0f} % of pairs {sgd} — the finite-sample part "
            "of Theorem 6.1 matters more than C1 here.\n")


TABLES = {"theorem-setup": theorem_setup, "theorem": theorem, "findings": findings,
          "corollary-setup": corollary_setup, "corollary": corollary,
          "corollary-findings": corollary_findings}


def render(root: Path, args: str) -> str:
    """The ``<!-- docs:checks NAME -->`` block ``NAME``."""
    name = args.split()[0] if args.split() else ""
    if name not in TABLES:
        raise DeltaTheoryError(f"docs:checks needs one of {', '.join(TABLES)}, not {args!r}")
    return TABLES[name](root)
