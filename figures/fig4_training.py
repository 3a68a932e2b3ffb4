"""Figure 4: training curves of every loss and control on the 80/70/60 geometry (d = 100).

Mean student accuracy with its 95 % band (:func:`deltatheory.mean_ci` over independent runs)
against SGD steps, for naive preference, DPO, IPO, SFT on the chosen labels, and the reversed and
tied controls of the preference loss. The dotted vertical line is the step where naive-preference
SGD reaches λ* (:func:`deltatheory.steps_for_lambda`); the dashed horizontal line is the best
accuracy on the ray (d → ∞).
"""

from __future__ import annotations

import sys

import numpy as np
from deltatheory.figures._common import (
    CYCLE,
    LINESTYLES,
    PALETTE,
    figure,
    label_panels,
    script_main,
)

import deltatheory as dt
from deltatheory.rng import seed_for

NAME = "fig4_training"
TITLE = "Training curves: preference losses, SFT and controls (80/70/60, d = 100)"

GEOMETRY = dict(student=0.8, chosen=0.7, rejected=0.6)
DIM = 100
LR = 0.002
ARMS = (
    ("naive preference", "pref", "none"),
    ("DPO (β = 1)", "dpo", "none"),
    ("IPO (β = 1)", "ipo", "none"),
    ("SFT on chosen", "sft-chosen", "none"),
    ("preference, reversed", "pref", "reversed"),
    ("preference, tied", "pref", "tied"),
)


def compute(quick: bool = False, seed: int = 0) -> dict:
    steps = 400 if quick else 600
    trials = 60 if quick else 400
    batch = 128 if quick else 256
    g = dt.Geometry(**GEOMETRY)
    p = dt.predict(g)
    arms = []
    for i, (label, loss, control) in enumerate(ARMS):
        res = dt.simulate(g, DIM, loss=loss, control=control, lr=LR, steps=steps, batch=batch,
                          trials=trials, seed=seed_for(seed, i), records=steps // 10)
        m, lo, hi = dt.mean_ci(res.accuracy)
        arms.append({"label": label, "loss": loss, "control": control,
                     "mean": m.tolist(), "ci95_low": lo.tolist(), "ci95_high": hi.tolist(),
                     "summary": res.summary()})
    return {
        **GEOMETRY, "dim": DIM, "lr": LR, "steps": res.steps.tolist(),
        "lambda_star": float(p.lambda_star),
        "sweet_spot_step": float(dt.steps_for_lambda(p.lambda_star, LR)),
        "best_accuracy_limit": float(p.best_accuracy),
        "arms": arms,
        "settings": {"steps": steps, "trials": trials, "batch": batch, "beta": 1.0},
    }


def plot(data: dict):
    fig, (ax1, ax2) = figure(rows=2, height=2.2)
    for ax in (ax1, ax2):
        for arm, col, ls in zip(data["arms"], CYCLE, LINESTYLES, strict=False):
            ax.fill_between(data["steps"], np.multiply(arm["ci95_low"], 100),
                            np.multiply(arm["ci95_high"], 100), color=col, alpha=0.2, lw=0)
            ax.plot(data["steps"], np.multiply(arm["mean"], 100), color=col, ls=ls,
                    label=arm["label"])
        ax.axvline(data["sweet_spot_step"], color=PALETTE["black"], ls=":", lw=0.8,
                   label="λ* reached (theory)")
        ax.axhline(data["best_accuracy_limit"] * 100, color="0.4", ls="--", lw=0.8,
                   label="best on the ray (d → ∞)")
        ax.set_xlabel("SGD steps")
        ax.set_ylabel("student accuracy (%)")
        ax.set_xlim(0, data["steps"][-1])
    ax2.set_ylim(data["student"] * 100 - 0.4, data["best_accuracy_limit"] * 100 + 0.3)
    # (b) is the zoom; its legend explains the two reference lines. A long title here ran into
    # the panel label "(b)" (tests/test_figures.py checks the labels' bounding boxes).
    ax2.set_title("zoom", loc="right")
    handles, labels = ax1.get_legend_handles_labels()
    n = len(data["arms"])
    ax1.legend(handles[:n], labels[:n], loc="lower left", ncol=2)
    ax2.legend(handles[n:], labels[n:], loc="upper right")
    label_panels((ax1, ax2))
    return fig


if __name__ == "__main__":
    sys.exit(script_main(sys.modules[__name__]))
