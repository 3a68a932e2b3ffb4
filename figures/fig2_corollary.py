"""Figure 2: P[C1] against d for several accuracy triples (Corollary 6.2).

Lines: the exact probability (:func:`deltatheory.p_c1_exact`) and its Gaussian approximation.
Points: Monte Carlo over exact random overlaps, and the fraction of random teacher pairs for which
finite-sample SGD (naive preference loss at λ*, 10 samples per dimension) improves the student,
both from :func:`deltatheory.check_corollary`. Guides: the 90 % level and the paper's d = 2000.
"""

from __future__ import annotations

import sys

import numpy as np
from deltatheory.figures._common import CYCLE, figure, script_main

import deltatheory as dt
from deltatheory.rng import seed_for

NAME = "fig2_corollary"
TITLE = "P[C1] against dimension (Corollary 6.2)"

TRIPLES = ((0.8, 0.7, 0.6), (0.8, 0.65, 0.6), (0.9, 0.7, 0.6), (0.7, 0.6, 0.55))
PAPER_DIM = 2000
QUANTILE = 0.9


def compute(quick: bool = False, seed: int = 0) -> dict:
    dense = np.unique(np.round(np.logspace(np.log10(3), 4, 30 if quick else 80)).astype(int))
    points = [5, 20, 100, 500, 2000] if quick else [3, 5, 10, 20, 50, 100, 200, 500, 1000,
                                                    2000, 5000]
    rows = []
    for i, (s, c, r) in enumerate(TRIPLES):
        check = dt.check_corollary(s, c, r, dims=points, quick=quick,
                                   seed=seed_for(seed, i), quantile=QUANTILE).to_dict()
        mc_samples = check["settings"]["monte_carlo_samples"]
        rows.append({
            "student": s, "chosen": c, "rejected": r,
            "exact": dt.p_c1_exact(s, c, r, dense).tolist(),
            "gaussian": dt.p_c1_gaussian(s, c, r, dense).tolist(),
            "points": check["rows"],
            "d_min_exact": check["d_min_exact"],
            "p_c1_at_paper_dim": float(dt.p_c1_exact(s, c, r, PAPER_DIM + 1)),
        })
    return {"dims": dense.tolist(), "paper_dim": PAPER_DIM, "quantile": QUANTILE,
            "triples": rows, "settings": {"point_dims": points,
                                          "monte_carlo_samples": mc_samples}}


def _label(t: dict) -> str:
    return f"{t['student']:.0%}/{t['chosen']:.0%}/{t['rejected']:.0%}".replace("%", "")


def plot(data: dict):
    fig, ax = figure(rows=1, height=3.4)
    for t, col in zip(data["triples"], CYCLE, strict=False):
        ax.plot(data["dims"], t["exact"], color=col,
                label=f"{_label(t)}  (d₉₀ = {t['d_min_exact']})")
        ax.plot(data["dims"], t["gaussian"], color=col, ls=":", lw=0.9)
        d = [p["dim"] for p in t["points"]]
        ax.errorbar(d, [p["p_c1_monte_carlo"] for p in t["points"]],
                    yerr=[1.96 * p["p_c1_monte_carlo_se"] for p in t["points"]],
                    fmt="o", color=col, mfc="white", ms=3, lw=0.8)
        ax.errorbar(d, [p["sgd_improved_fraction"] for p in t["points"]],
                    yerr=[1.96 * p["sgd_improved_fraction_se"] for p in t["points"]],
                    fmt="^", color=col, ms=3, lw=0.8)
    ax.axhline(data["quantile"], color="0.4", lw=0.8, ls="--")
    ax.axvline(data["paper_dim"], color="0.4", lw=0.8, ls="-.")
    ax.text(data["paper_dim"] / 1.1, 0.465, "paper's\nd = 2000", fontsize=6.5, color="0.3",
            ha="right", va="bottom")
    ax.set_xscale("log")
    ax.set_xlabel("dimension d (log scale)")
    ax.set_ylabel("probability over random error directions")
    ax.set_ylim(0.45, 1.01)
    from matplotlib.lines import Line2D

    keys = [Line2D([], [], color="0.3", label="P[C1] exact"),
            Line2D([], [], color="0.3", ls=":", label="Gaussian approx."),
            Line2D([], [], color="0.3", marker="o", mfc="white", ls="",
                   label="Monte Carlo ±1.96 SE"),
            Line2D([], [], color="0.3", marker="^", ls="", label="SGD improves (10 n/d)"),
            Line2D([], [], color="0.4", ls="--", lw=0.8, label="90 %")]
    triples = ax.get_legend_handles_labels()[0]
    ax.legend(handles=triples + keys, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2,
              title="student/chosen/rejected accuracy (%); d₉₀: exact d for P[C1] ≥ 0.9",
              title_fontsize=6.5)
    return fig


if __name__ == "__main__":
    sys.exit(script_main(sys.modules[__name__]))
