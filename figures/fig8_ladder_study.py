"""Figure 8: the ladder study (issue 12): does κ, or a simpler score, predict what DPO does?

Each point is one (chosen, rejected) pair of teachers: weaker rungs, the student itself, and
stronger rungs.

(a) predicted κ (bridge, held-out items; bootstrap 95 % CI) against the observed DPO gain
    (averaged over training seeds; bars: paired bootstrap 95 % CI over items *given these
    seeds*; small dots: each seed's gain; the CI over seeds and items, in ``ladder.md``, is
    much wider wherever the two seeds disagree); open triangles are the reversed controls,
    grey squares the coin-flip (zero-delta) controls, drawn apart. Panels (c) and (d) draw
    the DPO gain the same way.
(b) Spearman ρ over pairs of each predictor against the DPO gain, with two bootstrap 95 % CIs:
    over pairs with each pair's gain redrawn within its own seeds-and-items error (blue: every
    level of noise) and over pairs alone, gains taken as exact (grey, thin, above: too
    narrow). Predictors: κ, its signal term, the accuracy gap ("delta magnitude"), the chosen
    teacher's accuracy, the chosen answer's accuracy on the disagreement items, and two scores
    of the student on the pairs (implicit-reward margin; CHES).
(c) DPO gain against the delta magnitude (the paper's §5: grow, then plateau?).
(d) DPO and SFT gains against the chosen teacher's accuracy minus the student's (the paper's §5:
    SFT helps only when the chosen is stronger, DPO also when it is weaker); crosses: SFT on the
    rejected teacher's answers, at the rejected teacher's accuracy minus the student's.
(e) held-out accuracy (curve subset) against training step for the pairs with the largest,
    middle and smallest κ, beside the theory's f(λ) for the same pair, its λ axis scaled so
    that λ* falls on the last step (the theory does not fix the step ↔ λ scale).

The numbers are measured: ``compute`` reads the ladder study shipped in ``deltatheory/data``;
the ladder command draws this figure for a new run.
"""

from __future__ import annotations

import sys

import numpy as np

from ._common import PALETTE, figure, label_panels, script_main, shipped_study

NAME = "fig8_ladder_study"
TITLE = "The ladder study: predicted against observed DPO and SFT gains"
DATA = "ladder_study_smollm2.json"


def compute(quick: bool = False, seed: int = 0) -> dict:
    """The shipped ladder study (``quick`` and ``seed`` do not apply: it is data)."""
    return shipped_study(DATA, "deltatheory llm ladder experiments/ladder.yaml")


def _err(ax, x, y, yci, **kw):
    x, y = np.asarray(x, float), 100 * np.asarray(y, float)
    yci = 100 * np.asarray(yci, float).reshape(-1, 2)
    ax.errorbar(x, y, yerr=[y - yci[:, 0], yci[:, 1] - y], elinewidth=0.7, capsize=1.5, **kw)


def _points(pairs, key, xkey):
    """The pairs with ``key``, their x, y and the y's bars: for the seed-averaged DPO gain its
    items CI given the seeds run (the CI over seeds, with two seeds, would dwarf the panel)."""
    sel = [p for p in pairs if p.get(key) is not None and xkey(p) is not None]
    def ci(p):  # studies written before the two CIs have only dpo_gain_ci95 (over items)
        got = p.get("dpo_gain_items_ci95") if key == "dpo_gain" else None
        return got or p.get(f"{key}_ci95") or [p[key]] * 2

    return sel, [xkey(p) for p in sel], [p[key] for p in sel], [ci(p) for p in sel]


def _seeds(ax, sel, x, color):
    """Each training seed's gain beside the seed mean (small dots)."""
    for xi, p in zip(x, sel, strict=True):
        g = 100 * np.asarray(p.get("dpo_gain_per_seed", []), float)
        ax.plot([xi] * len(g), g, ".", ms=2, color=color, alpha=0.7, zorder=1)


def plot(data: dict):
    from deltatheory.closed_forms import ray_alignment_from_gram
    from deltatheory.geometry import alignment_to_accuracy

    pairs = data["pairs"]
    fig, axes = figure(5, height=2.0)
    kap = lambda p: p["bridge"]["kappa"] if p.get("bridge") else None  # noqa: E731

    # (a) κ against the observed gain, controls apart
    ax = axes[0]
    for key, fmt, face, label in (("dpo_gain", "o", PALETTE["blue"], "DPO (seed mean)"),
                                  ("reversed_gain", "^", "white", "reversed control"),
                                  ("coin_flip_gain", "s", PALETTE["purple"], "coin-flip control")):
        sel, x, y, ci = _points(pairs, key, kap)
        if sel:
            k = key.replace("_gain", "")
            x = [-v for v in x] if k == "reversed" else x  # a reversed pair's κ flips sign
            _err(ax, x, y, ci, fmt=fmt, mfc=face, mec=PALETTE["blue"], ecolor=PALETTE["sky"],
                 label=label)
            if key == "dpo_gain":
                _seeds(ax, sel, x, PALETTE["blue"])
    ax.axhline(0, color=PALETTE["black"], lw=0.6)
    ax.axvline(0, color=PALETTE["black"], lw=0.6, ls=":")
    ax.set_xlabel("predicted κ (bridge)")
    ax.set_ylabel("held-out gain (pts)")
    r = data["spearman"]["kappa"]
    rho = "n/a" if r["rho"] is None else f"{r['rho']:+.2f}" + (
        f" [{r['ci95'][0]:+.2f}, {r['ci95'][1]:+.2f}]" if r["ci95"] else "")
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.25 * (hi - lo))  # headroom for the ρ text above the points
    ax.text(0.03, 0.97, f"Spearman ρ = {rho}\n{r['n']} pairs; CI: pairs, seeds, items",
            transform=ax.transAxes,
            ha="left", va="top", fontsize=5)
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, 0.45), fontsize=5)

    # (b) ρ for every predictor
    ax = axes[1]
    keys = list(data["predictors"])
    rho = np.array([np.nan if data["spearman"][k]["rho"] is None else data["spearman"][k]["rho"]
                    for k in keys])
    ci = np.array([data["spearman"][k]["ci95"] or [np.nan, np.nan] for k in keys], float)
    yy = np.arange(len(keys))[::-1]
    narrow = [data["spearman"][k].get("ci95_pairs_only") for k in keys]
    if all(narrow):  # summaries written before the gains' own noise was counted have none
        nc = np.array(narrow, float)
        ax.errorbar(rho, yy + 0.18, xerr=np.clip([rho - nc[:, 0], nc[:, 1] - rho], 0, None),
                    fmt="none",
                    ecolor="0.6", elinewidth=0.5, capsize=1.0)
    # the interval that redraws noisy gains can end below ρ itself: clip the arms at 0
    ax.errorbar(rho, yy, xerr=np.clip([rho - ci[:, 0], ci[:, 1] - rho], 0, None), fmt="o",
                color=PALETTE["blue"],
                ecolor=PALETTE["sky"], elinewidth=0.7, capsize=1.5)
    ax.axvline(0, color=PALETTE["black"], lw=0.6)
    ax.set_yticks(yy, [data["predictors"][k] for k in keys], fontsize=5)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("Spearman ρ with the DPO gain (CI: pairs, seeds, items; grey: pairs only)")

    # (c) gain against delta magnitude
    ax = axes[2]
    sel, x, y, c = _points(pairs, "dpo_gain", lambda p: p["accuracy_gap"])
    _err(ax, 100 * np.asarray(x), y, c, fmt="o", color=PALETTE["blue"], ecolor=PALETTE["sky"])
    _seeds(ax, sel, 100 * np.asarray(x), PALETTE["blue"])
    ax.axhline(0, color=PALETTE["black"], lw=0.6)
    ax.set_xlabel("delta magnitude: chosen − rejected accuracy (pts)")
    ax.set_ylabel("DPO gain (pts)")

    # (d) DPO and SFT against the chosen teacher's strength relative to the student
    ax = axes[3]
    def student_acc(p):
        return p["chosen_accuracy"] - p["chosen_minus_student"]

    for key, fmt, color, label, where in (
            ("dpo_gain", "o", PALETTE["blue"], "DPO", lambda p: p["chosen_minus_student"]),
            ("sft_gain", "D", PALETTE["orange"], "SFT on chosen",
             lambda p: p["chosen_minus_student"]),
            # SFT on the rejected answers sits at the rejected teacher's strength
            ("sft_rejected_gain", "X", PALETTE["vermillion"], "SFT on rejected",
             lambda p: p["rejected_accuracy"] - student_acc(p))):
        sel, x, y, c = _points(pairs, key, where)
        if sel:
            _err(ax, 100 * np.asarray(x), y, c, fmt=fmt, color=color, ecolor=color, alpha=0.8,
                 label=label)
            if key == "dpo_gain":
                _seeds(ax, sel, 100 * np.asarray(x), color)
    ax.axhline(0, color=PALETTE["black"], lw=0.6)
    ax.axvline(0, color=PALETTE["black"], lw=0.6, ls=":")
    ax.set_xlabel("chosen (SFT on rejected: rejected) teacher − student accuracy (pts)")
    ax.set_ylabel("gain (pts)")
    ax.legend(loc="best")

    # (e) checkpoint curves beside f(λ)
    ax = axes[4]
    withc = sorted([p for p in pairs if p.get("curve") and p.get("bridge")], key=kap)
    picks = [withc[i] for i in sorted({0, len(withc) // 2, len(withc) - 1})] if withc else []
    colors = [PALETTE["vermillion"], PALETTE["green"], PALETTE["blue"]]
    for p, color in zip(picks, colors, strict=False):
        steps = np.array([q["step"] for q in p["curve"]], float)
        acc = 100 * (np.array([q["accuracy"] for q in p["curve"]]) - p["curve"][0]["accuracy"])
        ax.plot(steps, acc, "o-", color=color, ms=2.5, label=f"{p['pair']} (κ {kap(p):+.3f})")
        b = p["bridge"]
        lam_star = b.get("lambda_star")
        if not lam_star:  # λ* = 0 (no gain on the ray) or ∞ (None): no step to pin it to
            continue
        scale = lam_star / max(steps.max(), 1.0)
        grid = np.linspace(0, steps.max(), 60)
        f = alignment_to_accuracy(ray_alignment_from_gram(np.array(b["gram"]), grid * scale))
        ax.plot(grid, 100 * (f - f[0]), "--", color=color, lw=0.8)
    ax.axhline(0, color=PALETTE["black"], lw=0.6)
    ax.set_xlabel("training step (dashed: theory f(λ), λ* at the last step; "
                  "none where λ* is 0 or ∞)")
    ax.set_ylabel("accuracy change (pts)")
    if picks:
        ax.legend(loc="best", fontsize=5)
    label_panels(axes)
    return fig


if __name__ == "__main__":
    sys.exit(script_main(sys.modules[__name__]))
