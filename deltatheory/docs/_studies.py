"""Study records: one folder per study under ``experiments/results/``, one page per folder.

A folder holds the study's shipped results (JSON, tables the run wrote, figures) and a
hand-written ``README.md``: the question, the protocol and the rule that fixed its settings
(and when), the command, the verdict and its caveats. Its tables are not retyped: the README
marks them with ``<!-- docs:NAME -->`` blocks (:mod:`deltatheory.docs._markers`) and the
renderers here draw them from the JSON with the same functions the runs used to write their
own ``results.md`` / ``ladder.md`` (so the page equals what the run wrote, and a number cannot
drift). The pre-registered separation study's page also counts, at build time, how many of its
arms have finished.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from deltatheory.errors import DeltaTheoryError

from . import _checks

__all__ = ["Study", "find_studies", "renderers", "headline_table", "repository_link",
           "progress", "ORDER", "SECTIONS"]

#: the order of the studies on the site (others follow, by name)
ORDER = ["ladder", "separation", "bold_sections_sweep", "bold_sections", "dadpo_pruned",
         "rdo_weights", "dolci_delta"]
#: the sections every study record has (its README's second-level headings, in this order)
SECTIONS = ["Protocol", "Command", "Results", "Verdict", "Caveats"]


@dataclass(frozen=True)
class Study:
    """One folder under ``experiments/results/`` and its README."""

    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    @cached_property
    def readme(self) -> str:
        path = self.folder / "README.md"
        if not path.is_file():
            raise DeltaTheoryError(f"{self.folder}: a study folder needs a README.md (the "
                                   "question, protocol, command, results, verdict, caveats)")
        return path.read_text(encoding="utf-8")

    @property
    def title(self) -> str:
        m = re.search(r"^# (.+)$", self.readme, re.MULTILINE)
        if not m:
            raise DeltaTheoryError(f"{self.folder}/README.md has no '# title' line")
        return m[1].strip()

    def paragraph(self, label: str) -> str:
        """The text of the paragraph that starts ``**label.**`` (one line, no emphasis)."""
        m = re.search(rf"^\*\*{re.escape(label)}\.\*\*\s*(.+?)(?:\n\s*\n|\Z)", self.readme,
                      re.MULTILINE | re.DOTALL)
        if not m:
            raise DeltaTheoryError(f"{self.folder}/README.md has no '**{label}.**' paragraph")
        return " ".join(m[1].split())

    @property
    def config_yaml(self) -> Path | None:
        """``experiments/<name>.yaml``, the study's input, when there is one."""
        path = self.folder.parent.parent / f"{self.name}.yaml"
        return path if path.exists() else None

    def json(self, relative: str) -> dict:
        path = self.folder / relative
        if not path.is_file():
            raise DeltaTheoryError(f"{self.folder}: {relative} is missing (a generated table "
                                   "of its README reads it)")
        return json.loads(path.read_text(encoding="utf-8"))


def find_studies(root: Path) -> list[Study]:
    """Every study folder of the repository at ``root``, in the site's order."""
    base = root / "experiments" / "results"
    names = sorted(p.name for p in base.iterdir() if p.is_dir())
    names.sort(key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    return [Study(base / n) for n in names]


# --------------------------------------------------------------------------- experiment runs
def _experiment(study: Study):
    from deltatheory.llm.studies.experiment import ArmResult

    d = study.json("results.json")
    arms = [ArmResult.from_dict(a) for a in d["arms"]]
    comparisons = {a["arm"]: {k: a[k] for k in ("change", "change_ci95", "recovered") if k in a}
                   for a in d["arms"] if "change" in a}
    return d, arms, comparisons


def arms_table(study: Study, args: str = "") -> str:
    """The run's results table, exactly as the run wrote ``results.md``."""
    from deltatheory.llm.studies.experiment import markdown

    d, arms, comparisons = _experiment(study)
    return markdown(d["metric"], arms, comparisons,
                    selected=(d.get("selected") or {}).get("arm"))


def answers_table(study: Study, args: str = "") -> str:
    """Per arm, the distribution behind a graded mean: answers scoring above 0, the largest
    score of one answer, the training pairs and the arm's minutes."""
    d, arms, _ = _experiment(study)
    lines = ["| arm | answers scoring > 0 | largest score of one answer | pairs | minutes |",
             "|---|---|---|---|---|"]
    for a in arms:
        s = np.asarray(a.scores)
        pairs = (a.pair_diagnostics or {}).get("pairs", "")
        lines.append(f"| {a.arm} | {int((s > 0).sum())} of {len(s)} | {s.max():g} | {pairs} | "
                     f"{a.seconds / 60:.1f} |")
    return "\n".join(lines) + "\n"


def compare_table(study: Study, args: str) -> str:
    """Paired differences between arms: ``args`` is ``B vs A; D vs C`` (B − A, D − C), each on
    the same held-out items with the run's own bootstrap (resamples and seed)."""
    from deltatheory.stats import paired_diff_ci

    d, arms, _ = _experiment(study)
    by = {a.arm: a for a in arms}
    points = "accuracy" in d["metric"]
    scale, unit = (100.0, "points") if points else (1.0, d["metric"])
    lines = [f"| comparison (same held-out items) | difference, {unit} [95 % CI] |", "|---|---|"]
    for spec in filter(None, (s.strip() for s in args.split(";"))):
        after, _, before = spec.partition(" vs ")
        if not before or after not in by or before.strip() not in by:
            raise DeltaTheoryError(f"{study.name}: 'docs:compare {spec}' must be 'ARM vs ARM' "
                                   f"with arms of results.json ({', '.join(by)})")
        a, b = by[before.strip()], by[after.strip()]
        diff = scale * (np.mean(b.scores) - np.mean(a.scores))
        lo, hi = (scale * x for x in paired_diff_ci(a.scores, b.scores, d["config"]["bootstrap"],
                                                    d["config"]["seed"]))
        lines.append(f"| {b.arm} − {a.arm} | {diff:+.1f} [{lo:+.1f}, {hi:+.1f}] |")
    return "\n".join(lines) + "\n"


def selection(study: Study, args: str = "") -> str:
    """Which arm of a sweep the validation rule selected, the rule and every candidate."""
    d = study.json("results.json")
    sel = d.get("selected")
    if not sel:
        raise DeltaTheoryError(f"{study.name}: results.json selected no arm")
    means = ", ".join(f"{a} {v:.2f}" for a, v in sel["validation_means"].items())
    return (f"**Selected: `{sel['arm']}`**, by the rule: *{sel['rule']}*. Validation means: "
            f"{means}.\n")


# --------------------------------------------------------------------------- the ladder
def ladder_tables(study: Study, args: str = "") -> str:
    """The ladder study's tables, exactly as ``ladder.md`` (``args``: another ladder.json)."""
    from deltatheory.llm.studies.ladder import markdown

    return markdown(study.json(args or "ladder.json"))


def section_counts(study: Study, args: str = "") -> str:
    """Bold sections counted two ways (issue 22), exactly as ``section_counts.md``."""
    from deltatheory.llm.sections import report_markdown

    text = report_markdown(study.json("section_counts.json"))
    if text.startswith("# "):  # its title, as a caption rather than a heading of the page
        title, _, rest = text[2:].partition("\n")
        text = f"**{title.strip()}**\n{rest}"
    return text


def precision_tables(study: Study, args: str = "") -> str:
    from deltatheory.llm.studies.precision import markdown

    return markdown(study.json("precision.json"))


# --------------------------------------------------------------------------- separation
#: the protocol's stop: the study is complete after its fourth DPO seed (PROTOCOL.md)
MIN_SEEDS = 4


def progress(study: Study) -> tuple[int, int]:
    """(finished, planned) study arms of the pre-registered separation study: the planned arms
    are the registered pairs × the registered setting's DPO seeds — or the seeds its last
    summary ran (``run/separation.json``, ``dpo_seeds_run``: the protocol's stop after four
    seeds) — in the study's own arm list; a finished one has its
    ``run/arms/<arm>/metrics.json``."""
    from deltatheory.llm.studies.separation import arms

    reg = study.json("preregistration.json")
    seeds = reg["setting"]["seeds"]
    summary = study.folder / "run" / "separation.json"
    if summary.is_file():
        ran = json.loads(summary.read_text(encoding="utf-8")).get("dpo_seeds_run") or seeds
        seeds = seeds[:max(len(ran), MIN_SEEDS)]  # never fewer than the protocol's stop
    planned = [a["name"] for a in arms(None, reg["pairs"], seeds)]
    done = sum((study.folder / "run" / "arms" / n / "metrics.json").is_file() for n in planned)
    return done, len(planned)


def separation_tables(study: Study, args: str = "") -> str:
    """The separation study's summary, exactly as its last report wrote ``run/separation.md``
    (partial while arms are missing: the summary says how many had finished)."""
    from deltatheory.llm.studies.separation import markdown

    return markdown(study.json(args or "run/separation.json"))


def _separation_summary(study: Study) -> tuple[dict | None, int, int]:
    """(the summary if it may be judged, else None; arms finished; arms planned). A summary
    may be judged only when it says complete, every planned arm has its metrics, and it ran
    at least the protocol's first four registered DPO seeds — a report with ``--seeds 2``
    over finished arms is complete for its own plan but not the study."""
    done, total = progress(study)
    path = study.folder / "run" / "separation.json"
    s = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    reg = study.json("preregistration.json")["setting"]["seeds"]
    ran = (s or {}).get("dpo_seeds_run") or []
    ready = (s is not None and s.get("complete") and done == total
             and len(ran) >= min(MIN_SEEDS, len(reg)) and ran == reg[:len(ran)])
    return (s if ready else None), done, total


def separation_verdict(study: Study, args: str = "") -> str:
    """H1–H3 judged by the rules the protocol registered, from the complete summary
    (``run/separation.json``); written as code before the study's last arms ran, so the words
    cannot be chosen after the numbers. While arms are missing: no verdict, only the count.

    - H1: supported only when the 95 % interval of κ's partial rank correlation with the gain,
      given the gap, lies above 0; otherwise "κ adds nothing measurable over the gap".
    - H2: supported when κ has the gain's sign right on more of the disagreeing pairs than the
      gap (as registered), with the exact McNemar test saying whether that difference is
      resolved.
    - H3: per pair, SFT-all − DPO with its interval below 0 (as registered), beside the pairs
      where SFT-all also hurts and DPO also helps, and the count of distinct SFT-all runs.
    """
    s, done, total = _separation_summary(study)
    if s is None:
        return (f"No verdict yet: {done} of {total} study arms have finished. The verdict is "
                "drawn from the complete summary by rules fixed in code before the last arms "
                "ran (`separation_verdict` in `deltatheory/docs/_studies.py`).\n")
    part, gap_part = s["partial"]["kappa_given_gap"], s["partial"]["gap_given_kappa"]
    h1 = part["ci95"] is not None and part["ci95"][0] > 0
    sp = s["spearman"]
    lines = [f"- **H1 (κ beyond the gap): {'supported' if h1 else 'not supported'}.** The "
             f"partial rank correlation of κ with the DPO gain given the gap is {_rho(part)} "
             f"over {part['n']} pairs (the gap given κ: {_rho(gap_part)}; κ alone "
             f"{_rho(sp['kappa'])}, the gap alone {_rho(sp['accuracy_gap'])})."
             + ("" if h1 else " κ adds nothing measurable over the accuracy gap on these "
                "pairs.")]
    k, g = (s["signs_where_they_disagree"][key] for key in ("kappa", "accuracy_gap"))
    t = s["sign_test"]["disagree"]
    h2 = k["right"] > g["right"]
    resolved = t["p_exact"] is not None and t["p_exact"] < 0.05
    p_text = "—" if t["p_exact"] is None else f"{t['p_exact']:.3f}"
    lines.append(
        f"- **H2 (signs where they disagree): {'supported' if h2 else 'not supported'}.** On "
        f"the {k['n']} disagreeing pairs κ had the gain's sign right on {k['right']}, the gap "
        f"on {g['right']}; only κ right on {t['a_only']}, only the gap on {t['b_only']} (exact "
        f"McNemar p = {p_text}: {'a resolved' if resolved else 'not a resolved'} difference).")
    c = s["sft_all_contrast"]
    h3 = [q for q in s["pairs"] if q["pair"] in c["pairs"]
          and q["sft_all_minus_dpo_ci95"][1] < 0]
    lines.append(
        f"- **H3 (§5: SFT on a weaker teacher's answers hurts, DPO helps): holds on {len(h3)} of "
        f"{c['n']} pairs** whose chosen teacher is less accurate than the student (SFT-all − "
        f"DPO below 0 with its interval); SFT-all itself hurt on {c['sft_all_hurts']}, DPO "
        f"helped on {c['dpo_helps']}, all three on {c['all_three']}. These pairs share "
        f"{c['n_chosen']} distinct SFT-all runs; median SFT-all − DPO "
        f"{_points(c['median_sft_all_minus_dpo'])} points.")
    return "\n".join(lines) + "\n"


def progress_line(study: Study, args: str = "") -> str:
    done, total = progress(study)
    state = "finished" if done == total else "in progress"
    return (f"**Status when this page was built: {state}, {done} of {total} study arms "
            f"finished** (counted from `run/arms/*/metrics.json`; noise-study arms not "
            "included).\n")


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def preregistration_table(study: Study, args: str = "") -> str:
    """The registered pairs with the predictions committed before the first study arm."""
    reg = study.json("preregistration.json")
    lines = [f"Registered {reg['written']} (study `{reg['study']}`, code `{reg['code_version']}`"
             f", configuration hash `{reg['config_hash']}`); DPO seeds "
             f"{', '.join(map(str, reg['setting']['seeds']))}.", "",
             "| pair | families | chosen / rejected accuracy | gap (points) | κ [95 % CI] | "
             "predicted sign | predicted best gain (points) | disagree | reversed control |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p in reg["pairs"]:
        lo, hi = p["kappa_ci95"]
        glo, ghi = p["predicted_gain_ci95"]
        lines.append(
            f"| {p['pair']} | {' / '.join(f.split('-')[0] for f in p['families'])} | "
            f"{_pct(p['chosen_accuracy'])} / "
            f"{_pct(p['rejected_accuracy'])} | {100 * p['accuracy_gap']:+.1f} | "
            f"{p['kappa']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {p['predicted_sign']:+d} | "
            f"{100 * p['predicted_gain']:+.1f} [{100 * glo:+.1f}, {100 * ghi:+.1f}] | "
            f"{'yes' if p['disagree'] else 'no'}"
            f"{' (opposite signs)' if p['opposite_signs'] else ''} | "
            f"{'yes' if p['reversed_control'] else ''} |")
    return "\n".join(lines) + "\n"


def hypotheses(study: Study, args: str = "") -> str:
    reg = study.json("preregistration.json")
    return "\n".join(f"- {h}" for h in reg["hypotheses"]) + "\n"


#: the generated blocks a study README may use
RENDERERS: dict[str, Callable[[Study, str], str]] = {
    "arms": arms_table, "answers": answers_table, "compare": compare_table,
    "selection": selection, "section-counts": section_counts, "ladder": ladder_tables,
    "precision": precision_tables,
    "progress": progress_line, "preregistration": preregistration_table,
    "separation": separation_tables, "separation-verdict": separation_verdict,
    "hypotheses": hypotheses,
}


def renderers(study: Study) -> dict[str, Callable[[str], str]]:
    """The block renderers bound to one study (for :func:`deltatheory.docs._markers.expand`)."""
    return {name: (lambda args, f=f: f(study, args)) for name, f in RENDERERS.items()}


# --------------------------------------------------------------------------- the headline
def _points(v: float, ci=None) -> str:
    s = f"{100 * v:+.1f}"
    return s + (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci is not None else "")


def _rho(s: dict) -> str:
    if s.get("rho") is None or s.get("ci95") is None:
        return "n/a" + (f" ({s['why']})" if s.get("why") else "")
    return f"{s['rho']:+.2f} [{s['ci95'][0]:+.2f}, {s['ci95'][1]:+.2f}]"


def _every(gains: list[float], pairs: str = "pairs") -> str:
    """How many of ``gains`` are gains, in words: "in every one of the 10 pairs" only when
    every one is positive.

    >>> _every([0.1, 0.2]), _every([0.1, -0.2])
    ('in every one of the 2 pairs', 'in 1 of the 2 pairs')
    """
    up = sum(g > 0 for g in gains)
    return (f"in every one of the {len(gains)} {pairs}" if up == len(gains) else
            f"in {up} of the {len(gains)} {pairs}")


def separation_answer(study: Study, registered: dict) -> str:
    """The headline's separation answer: "running" while arms are missing (how many is on the
    study's page, so the front page does not change with every arm); once its
    summary (``run/separation.json``) is complete, H1's verdict — "Yes" only when the partial
    rank correlation of κ with the gain given the gap has a 95 % interval above 0 — with the
    sign counts where κ and the gap disagree (H2)."""
    summary, _, _ = _separation_summary(study)
    if summary is None:
        return (f"Pre-registered ({len(registered['pairs'])} pairs, predictions committed "
                "before training); running")  # the count is on the study's page
    part = summary["partial"]["kappa_given_gap"]
    signs = summary["signs_where_they_disagree"]
    k, g = signs["kappa"], signs["accuracy_gap"]
    verdict = "Yes" if part.get("ci95") is not None and part["ci95"][0] > 0 else "Not measurably"
    return (f"{verdict}: κ's partial rank correlation with the DPO gain given the gap "
            f"{_rho(part)} over {part['n']} pairs; where the two disagree, κ had the gain's "
            f"sign right on {k['right']} of {k['n']} pairs, the gap on {g['right']} of {g['n']}")


def headline_rows(root: Path) -> list[tuple[str, str, str]]:
    """(question, answer, where) for the front page: each answer computed from the shipped
    results (the two theory rows from the closed forms, the checks' configurations and the
    documented check run); counts are counted, and "every" is said only where it holds. The
    verdict words (yes, no, not measurably) are held to the data by ``tests/test_docs.py``."""
    import deltatheory as dt
    from deltatheory.checks import THEOREM_CONFIGS
    from deltatheory.stats import paired_diff_ci

    base = root / "experiments" / "results"
    ladder = json.loads((base / "ladder" / "ladder.json").read_text(encoding="utf-8"))
    registered = json.loads((base / "separation" / "preregistration.json").read_text(
        encoding="utf-8"))
    student = ladder["accuracy"]["student"]["test"]
    pruned = [p for p in ladder["pairs"]
              if p["chosen"].startswith("prune-") and p["rejected"].startswith("prune-")]
    weak = [p for p in pruned
            if p["chosen_accuracy"] < student and p["rejected_accuracy"] < student]
    weak_gains = [p["dpo_gain"] for p in weak]
    sp = ladder["spearman"]
    sft = [p["sft_gain"] for p in ladder["pairs"]]

    def arms(name):
        d = json.loads((base / name / "results.json").read_text(encoding="utf-8"))
        return d, {a["arm"]: a for a in d["arms"]}

    def diff(name, after, before):
        d, by = arms(name)
        a, b = by[before]["scores"], by[after]["scores"]
        ci = paired_diff_ci(a, b, d["config"]["bootstrap"], d["config"]["seed"])
        return _points(float(np.mean(b) - np.mean(a)), ci)

    _, bold = arms("bold_sections")
    dpo = bold["dpo-3-over-2"]
    _, dolci = arms("dolci_delta")
    d64 = dt.min_dimension(0.8, 0.7, 0.6, quantile=0.9)
    d_sgd = _checks.sgd_dimension(_checks.load(root, "corollary"))  # shipped `check all`
    return [
        ("Does SGD in the logistic model do what Theorem 6.1 says?",
         f"Yes, in all {len(THEOREM_CONFIGS)} configurations of `deltatheory check all`: a gain "
         "where C1 holds, a loss where it fails, the controls as predicted", "checks"),
        ("How large must d be for C1 in 90 % of random 80/70/60 pairs (Corollary 6.2)?",
         f"d = {d64} exactly (the paper's d > 2000 holds, {2000 / d64:.0f}× conservative); "
         f"finite-sample SGD needs d ≈ {d_sgd}", "checks"),
        ("Does DPO on pairs of two weaker teachers lift a real model?",
         f"Yes: SmolLM2-135M gained {_points(min(weak_gains))} to {_points(max(weak_gains))} "
         f"points, {_every(weak_gains, 'pairs of two pruned teachers both weaker than itself')}",
         "ladder"),
        ("Does κ rank the pairs better than the accuracy gap?",
         f"Not measurably: Spearman ρ {_rho(sp['kappa'])} over {sp['kappa']['n']} pairs, the "
         f"gap {_rho(sp['accuracy_gap'])}", "ladder"),
        ("Does SFT on weak answers fail, as in the paper?",
         f"Not here: SFT on the chosen teacher's answers gained {_points(min(sft))} to "
         f"{_points(max(sft))} points, {_every(sft)}", "ladder"),
        ("Does κ tell more than the gap where the two disagree?",
         separation_answer(Study(base / "separation"), registered), "separation"),
        ("Is the paper's bold-sections warm-up reproduced?",
         f"No: DPO 3 > 2 sections changed the mean by {dpo['change']:+.2f} "
         f"[{dpo['change_ci95'][0]:+.2f}, {dpo['change_ci95'][1]:+.2f}] sections per answer",
         "bold_sections"),
        ("Do the teacher's log-probabilities (daDPO) help restore a pruned model?",
         f"No: β₂ = 0.5 is {diff('dadpo_pruned', 'dadpo-b2-0.5', 'ddpo')} points against dDPO",
         "dadpo_pruned"),
        ("Do reward-difference (RDO-style) weights beat plain DPO?",
         f"No: {diff('rdo_weights', 'weighted-gap', 'dpo')} points", "rdo_weights"),
        ("Does OLMo 3's Dolci filter matter?",
         f"Yes: DPO {_points(dolci['dpo-filtered']['change'])} points with it, "
         f"{_points(dolci['dpo-unfiltered']['change'])} without; SFT on the same answers "
         f"{_points(dolci['sft-filtered']['change'])}", "dolci_delta"),
    ]


#: how the headline table names where each answer comes from
LABELS = {"checks": "the checks", "ladder": "ladder study", "separation": "separation study",
          "bold_sections": "warm-up", "dadpo_pruned": "daDPO study",
          "rdo_weights": "RDO study", "dolci_delta": "Dolci study"}


def repository_link(where: str) -> str:
    """Where a headline row links in the repository (the README front page).

    >>> repository_link("checks"), repository_link("ladder")
    ('docs/checks.md', 'experiments/results/ladder/README.md')
    """
    return "docs/checks.md" if where == "checks" else f"experiments/results/{where}/README.md"


def headline_table(root: Path, link: Callable[[str], str] = repository_link) -> str:
    """The front page's table of headline results; ``link(where)`` gives each row's target
    (``where`` is ``checks`` or a study folder's name)."""
    lines = ["| question | answer | details |", "|---|---|---|"]
    for q, a, where in headline_rows(root):
        lines.append(f"| {q} | {a} | [{LABELS.get(where, where)}]({link(where)}) |")
    return "\n".join(lines) + "\n"
