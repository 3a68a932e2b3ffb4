"""Figure 9: the separation study (issue 23): does κ predict DPO's gain beyond the accuracy gap?

Twenty pre-registered pairs of teachers from two model families (SmolLM2 and its pruned copies;
the base Gemma 3 270M and its pruned copies) and constructed teachers (flipped labels), chosen so
that κ and the accuracy gap disagree on most of them (see
``experiments/results/separation/PROTOCOL.md``). Student: SmolLM2-135M-Instruct on
``addition-choice-v2``.

(a) registered κ (bridge, test items; bootstrap 95 % CI) against the observed DPO gain (mean over
    seeds; bars: 95 % CI over seeds and items, or over items alone while a pair has one seed);
    filled: κ and the gap agree, open: they predict opposite signs, half: their ranks differ.
    Colours: both teachers of the student's family, a teacher of another family, constructed.
(b) the same gains against the accuracy gap (chosen − rejected, test items): where κ < 0 and the
    gap > 0 the two predictors say opposite things, and this panel and (a) cannot both order
    the gains.
(c) Spearman ρ of each predictor with the DPO gain (95 % CI over pairs, seeds and items; grey,
    above: over pairs alone) and the partial rank correlations (κ given the gap; the gap given
    κ), the study's question.
(d) the paper's §5 contrast: DPO and SFT on *all* of the chosen teacher's training answers (and
    SFT on the chosen side of the disagreement items only) against the chosen teacher's
    accuracy minus the student's.
(e) a check of the registered κ: κ re-estimated on the validation items (which the selection
    never saw) against the registered κ; the diagonal is agreement.

The numbers are measured: ``compute`` reads the study shipped in ``deltatheory/data`` (a partial
study says how many of its arms had finished); the separation command draws this figure for a run.
"""

from __future__ import annotations

import sys

import numpy as np

from ._common import PALETTE, label_panels, script_main, shipped_study

NAME = "fig9_separation_study"
TITLE = "The separation study: κ against the accuracy gap as predictors of the DPO gain"
DATA = "separation_study_smollm2.json"
COMMAND = "deltatheory llm separation experiments/separation.yaml"

GROUP_COLOUR = {"own": PALETTE["blue"], "other_family": PALETTE["orange"],
                "constructed": PALETTE["green"]}
GROUP_LABEL = {"own": "student's family", "other_family": "another family",
               "constructed": "constructed"}


def compute(quick: bool = False, seed: int = 0) -> dict:
    """The shipped separation study (``quick`` and ``seed`` do not apply: it is data)."""
    return shipped_study(DATA, COMMAND)


def _gain(p):
    """The seed-averaged DPO gain and its bars (seeds and items; items alone with one seed)."""
    ci = p.get("dpo_gain_ci95") or p.get("dpo_gain_items_ci95")
    return p.get("dpo_gain"), ci


def _marker(p):
    if p.get("opposite_signs"):
        return "o", "white"
    if p.get("disagree"):
        return "o", "half"
    return "o", None


def _scatter(ax, pairs, xkey, xci=None):
    for p in pairs:
        y, ci = _gain(p)
        if y is None:
            continue
        x = xkey(p)
        colour = GROUP_COLOUR[p["group"]]
        fmt, face = _marker(p)
        kw = dict(fmt=fmt, color=colour, ecolor=colour, elinewidth=0.6, capsize=1.2, ms=3.5,
                  mec=colour, mfc=colour if face is None else ("white" if face == "white"
                                                              else colour),
                  fillstyle="left" if face == "half" else "full", alpha=0.9)
        xerr = None
        if xci is not None:
            lo, hi = xci(p)
            xerr = [[x - lo], [hi - x]]
        ax.errorbar([x], [100 * y], yerr=[[100 * (y - ci[0])], [100 * (ci[1] - y)]],
                    xerr=xerr, **kw)
        g = 100 * np.asarray(p.get("dpo_gain_per_seed", []), float)
        ax.plot([x] * len(g), g, ".", ms=1.8, color=colour, alpha=0.6, zorder=1)
    ax.axhline(0, color=PALETTE["black"], lw=0.6)


def _legend(ax):
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="", marker="o", color=c, label=GROUP_LABEL[g])
               for g, c in GROUP_COLOUR.items()]
    handles += [Line2D([], [], ls="", marker="o", color="0.3", mfc="white",
                       label="κ, gap: opposite signs"),
                Line2D([], [], ls="", marker="o", color="0.3", fillstyle="left",
                       label="κ, gap: ranks apart")]
    # outside the axes (below the x label), so it never covers a point or the ρ text
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=3,
              fontsize=4.5)


def _panels(rows: int, height: float):
    """One column of ``rows`` panels, each in its own subfigure, so that panel (c)'s long
    predictor names widen only its own left margin instead of narrowing every panel."""
    import matplotlib.pyplot as plt

    from ._common import COLUMN_WIDTH, STYLE

    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(COLUMN_WIDTH, height * rows), layout="constrained")
        axes = [sub.subplots() for sub in fig.subfigures(rows, 1)]
    return fig, axes


def _rho_text(r: dict) -> str:
    if r.get("rho") is None:
        return "n/a"
    ci = r.get("ci95")
    return f"{r['rho']:+.2f}" + (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "")


def plot(data: dict):
    pairs = data["pairs"]  # each with its transfer group (the study's analysis sets it)
    fig, axes = _panels(5, height=2.0)
    status = ("" if data.get("complete", True) else
              f"partial: {data['arms_finished']} of {data['arms_planned']} arms\n")

    # (a) κ against the gain
    ax = axes[0]
    _scatter(ax, pairs, lambda p: p["kappa"], xci=lambda p: p["kappa_ci95"])
    ax.axvline(0, color=PALETTE["black"], lw=0.6, ls=":")
    ax.set_xlabel("registered κ (bridge, test items)")
    ax.set_ylabel("DPO gain (pts)")
    ax.text(0.02, 0.98, f"{status}Spearman ρ = {_rho_text(data['spearman']['kappa'])}",
            transform=ax.transAxes, ha="left", va="top", fontsize=5)
    _legend(ax)

    # (b) the accuracy gap against the gain
    ax = axes[1]
    _scatter(ax, pairs, lambda p: 100 * p["accuracy_gap"])
    ax.set_xlabel("accuracy gap: chosen − rejected (pts)")
    ax.set_ylabel("DPO gain (pts)")
    ax.text(0.02, 0.98, f"Spearman ρ = {_rho_text(data['spearman']['accuracy_gap'])}",
            transform=ax.transAxes, ha="left", va="top", fontsize=5)

    # (c) ρ for every predictor, and the two partial correlations
    ax = axes[2]
    rows = [(data["predictors"][k], data["spearman"][k]) for k in data["predictors"]]
    rows += [("partial: κ given the gap", data["partial"]["kappa_given_gap"]),
             ("partial: the gap given κ", data["partial"]["gap_given_kappa"])]
    yy = np.arange(len(rows))[::-1]
    for y, (_, r) in zip(yy, rows, strict=True):
        if r.get("rho") is None:
            ax.text(0, y, "n/a", ha="center", va="center", fontsize=5, color="0.4")
            continue
        if r.get("ci95_pairs_only"):
            lo, hi = r["ci95_pairs_only"]
            ax.plot([lo, hi], [y + 0.2, y + 0.2], color="0.6", lw=0.5)
        if r.get("ci95"):
            lo, hi = r["ci95"]
            ax.plot([lo, hi], [y, y], color=PALETTE["sky"], lw=0.8)
        ax.plot([r["rho"]], [y], "o", color=PALETTE["blue"], ms=3)
    ax.axvline(0, color=PALETTE["black"], lw=0.6)
    ax.set_yticks(yy, [label for label, _ in rows], fontsize=5)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("Spearman ρ with the DPO gain\n(CI: pairs, seeds, items; grey: pairs only)")

    # (d) §5: SFT on all chosen answers against DPO, by the chosen teacher's strength
    ax = axes[3]
    series = (("dpo_gain", "o", PALETTE["blue"], "DPO (seed mean)"),
              ("sft_all_gain", "D", PALETTE["vermillion"], "SFT, all chosen answers"),
              ("sft_gain", "x", PALETTE["orange"], "SFT, chosen side of the pairs"))
    for key, fmt, colour, label in series:
        sel = [p for p in pairs if p.get(key) is not None]
        if not sel:
            continue
        x = np.array([100 * p["chosen_minus_student"] for p in sel])
        y = np.array([100 * p[key] for p in sel])
        cis = [p.get("dpo_gain_ci95") or p.get("dpo_gain_items_ci95") if key == "dpo_gain"
               else p.get(f"{key}_seed_ci95") or p.get(f"{key}_ci95") for p in sel]
        ci = 100 * np.array([c if c else [v / 100, v / 100] for c, v in zip(cis, y, strict=True)])
        ax.errorbar(x, y, yerr=np.clip([y - ci[:, 0], ci[:, 1] - y], 0, None), fmt=fmt,
                    color=colour, ecolor=colour, elinewidth=0.6, capsize=1.2, ms=3, alpha=0.85,
                    label=label)
    ax.axhline(0, color=PALETTE["black"], lw=0.6)
    ax.axvline(0, color=PALETTE["black"], lw=0.6, ls=":")
    ax.set_xlabel("chosen teacher − student accuracy (pts)")
    ax.set_ylabel("gain (pts)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2, fontsize=4.5)

    # (e) κ on the validation items against the registered κ
    ax = axes[4]
    kv = data.get("kappa_validation") or {}
    for p in pairs:
        v = kv.get(p["pair"])
        if not v or v.get("kappa") is None:
            continue
        colour = GROUP_COLOUR[p["group"]]
        lo, hi = v["kappa_ci95"]
        ax.errorbar([p["kappa"]], [v["kappa"]], yerr=[[v["kappa"] - lo], [hi - v["kappa"]]],
                    fmt="o", color=colour, ecolor=colour, elinewidth=0.6, capsize=1.2, ms=3)
    lim = [min([-0.1] + [p["kappa"] for p in pairs]) - 0.05,
           max([0.1] + [p["kappa"] for p in pairs]) + 0.05]
    ax.plot(lim, lim, color="0.5", lw=0.6, ls="--")
    ax.axhline(0, color=PALETTE["black"], lw=0.6)
    ax.axvline(0, color=PALETTE["black"], lw=0.6, ls=":")
    ax.set_xlabel("registered κ (test items)")
    ax.set_ylabel("κ on validation items")
    label_panels(axes)
    return fig


if __name__ == "__main__":
    sys.exit(script_main(sys.modules[__name__]))
