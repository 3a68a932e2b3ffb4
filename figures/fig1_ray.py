"""Figure 1: accuracy along the ray θ₀ + λ(θ̂_c − θ̂_r) for the 80/70/60 example.

At finite d the error directions are random (Corollary 6.2's model), so each d shows the median
and the 10–90 % band over random draws of the overlaps; d = ∞ is the orthogonal limit. λ* and the
over-training limit (λ → ∞) come from :func:`deltatheory.predict`.
"""

from __future__ import annotations

import sys

import numpy as np
from deltatheory.figures._common import PALETTE, figure, label_panels, script_main

import deltatheory as dt

NAME = "fig1_ray"
TITLE = "Accuracy along the ray theta0 + lambda v (80/70/60)"

STUDENT, CHOSEN, REJECTED = 0.8, 0.7, 0.6


def compute(quick: bool = False, seed: int = 0) -> dict:
    dims = [30, 100, 1000] if quick else [30, 100, 1000, 10000]
    draws = 200 if quick else 2000
    zoom = np.linspace(0.0, 0.3, 61 if quick else 151)
    wide = np.logspace(-3, 3, 61 if quick else 121)
    limit = dt.Geometry(STUDENT, CHOSEN, REJECTED)
    p = dt.predict(limit)
    curves = []
    for i, d in enumerate(dims):
        ov = dt.random_overlaps(d, draws, np.random.default_rng([seed, i]))
        g = dt.Geometry(STUDENT, CHOSEN, REJECTED, ov[:, :1], ov[:, 1:2], ov[:, 2:3])
        rows = {}
        for key, lam in (("zoom", zoom), ("wide", wide)):
            acc = dt.alignment_to_accuracy(dt.ray_alignment(g, lam[None, :]))
            rows[key] = {q: np.quantile(acc, v, axis=0).tolist()
                         for q, v in (("median", 0.5), ("q10", 0.1), ("q90", 0.9))}
        pd = dt.predict(g)
        curves.append({"dim": d, **rows,
                       "p_c1": float(dt.p_c1_exact(STUDENT, CHOSEN, REJECTED, d)),
                       "fraction_kappa_positive": float(np.mean(pd.kappa > 0))})
    return {
        "student": STUDENT, "chosen": CHOSEN, "rejected": REJECTED,
        "lambda_zoom": zoom.tolist(), "lambda_wide": wide.tolist(),
        "limit": {
            "zoom": dt.alignment_to_accuracy(dt.ray_alignment(limit, zoom)).tolist(),
            "wide": dt.alignment_to_accuracy(dt.ray_alignment(limit, wide)).tolist(),
            "kappa": float(p.kappa), "lambda_star": float(p.lambda_star),
            "best_accuracy": float(p.best_accuracy),
            "overtrain_accuracy": float(p.overtrain_accuracy),
        },
        "finite_d": curves,
        "settings": {"dims": dims, "overlap_draws": draws, "band": [0.1, 0.9]},
    }


def plot(data: dict):
    fig, (ax1, ax2) = figure(rows=2, height=2.4)
    lim = data["limit"]
    greys = [PALETTE["sky"], PALETTE["green"], PALETTE["orange"], PALETTE["purple"]]
    for ax, key, xs in ((ax1, "zoom", data["lambda_zoom"]), (ax2, "wide", data["lambda_wide"])):
        for c, col in zip(data["finite_d"], greys, strict=False):
            ax.fill_between(xs, np.multiply(c[key]["q10"], 100),
                            np.multiply(c[key]["q90"], 100), color=col, alpha=0.12, lw=0)
            ax.plot(xs, np.multiply(c[key]["median"], 100), color=col, lw=1.0,
                    label=f"d = {c['dim']:,} (median, 10–90 %)")
        ax.plot(xs, np.multiply(lim[key], 100), color=PALETTE["black"], lw=1.6,
                label="d → ∞")
        ax.axhline(data["student"] * 100, color="0.5", lw=0.8, ls=":", label="student")
        ax.axvline(lim["lambda_star"], color=PALETTE["vermillion"], lw=0.9, ls="--",
                   label=f"λ* = {lim['lambda_star']:.3f}")
        ax.set_ylabel("student accuracy (%)")
    ax1.set_xlim(0, max(data["lambda_zoom"]))
    ax1.set_ylim(data["student"] * 100 - 0.8, lim["best_accuracy"] * 100 + 0.4)
    ax1.plot([lim["lambda_star"]], [lim["best_accuracy"] * 100], "o",
             color=PALETTE["vermillion"], ms=4)
    ax1.set_xlabel("λ (step along θ̂_c − θ̂_r; θ̂₀ has norm 1)")
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2)
    ax2.set_xscale("log")
    ax2.axhline(lim["overtrain_accuracy"] * 100, color=PALETTE["blue"], lw=0.9, ls="--",
                label=f"over-training limit {lim['overtrain_accuracy']:.1%}".replace("%", " %"))
    ax2.set_xlabel("λ (log scale)")
    ax2.legend(loc="center left", handles=ax2.get_lines()[-1:])
    label_panels((ax1, ax2))
    return fig


if __name__ == "__main__":
    sys.exit(script_main(sys.modules[__name__]))
