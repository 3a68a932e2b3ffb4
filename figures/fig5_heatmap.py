"""Figure 5: κ and the best gain over (chosen accuracy, rejected accuracy) for an 80 % student.

Teachers' error directions orthogonal to the student's (the d → ∞ limit), so κ > 0 exactly above
the diagonal. At finite d the errors are random: the contours mark where P[C1] reaches 90 % at
several d (:func:`deltatheory.p_c1_exact`), i.e. where most random teacher pairs satisfy C1.
"""

from __future__ import annotations

import sys

import numpy as np
from deltatheory.figures._common import CYCLE, figure, label_panels, script_main

import deltatheory as dt

NAME = "fig5_heatmap"
TITLE = "kappa and best gain over teacher accuracies (80 % student)"

STUDENT = 0.8
DIMS = (10, 100, 1000)
LEVEL = 0.9


def compute(quick: bool = False, seed: int = 0) -> dict:
    axis = np.linspace(0.52, 0.98, 18 if quick else 47)
    chosen, rejected = np.meshgrid(axis, axis, indexing="xy")  # rows: rejected, cols: chosen
    g = dt.Geometry(STUDENT, chosen, rejected)
    p = dt.predict(g)
    p_c1 = {str(d): dt.p_c1_exact(STUDENT, chosen, rejected, d).tolist() for d in DIMS}
    return {"student": STUDENT, "axis": axis.tolist(), "kappa": p.kappa.tolist(),
            "best_gain": p.best_gain.tolist(), "p_c1": p_c1, "level": LEVEL,
            "settings": {"grid": len(axis), "dims": list(DIMS),
                         "note": "rows index the rejected accuracy, columns the chosen"}}


def plot(data: dict):
    fig, (ax1, ax2) = figure(rows=2, height=2.6)
    ax_pct = np.multiply(data["axis"], 100)
    kap = np.array(data["kappa"])
    lim = np.abs(kap).max()
    im1 = ax1.pcolormesh(ax_pct, ax_pct, kap, cmap="PuOr_r", vmin=-lim, vmax=lim,
                         shading="nearest", rasterized=True)
    fig.colorbar(im1, ax=ax1, label="κ = f′(0)")
    gain = np.array(data["best_gain"]) * 100
    im2 = ax2.pcolormesh(ax_pct, ax_pct, gain, cmap="cividis", shading="nearest",
                         rasterized=True)
    fig.colorbar(im2, ax=ax2, label="best gain (points, d → ∞)")
    handles = []
    for ax in (ax1, ax2):
        for (d, vals), col, ls in zip(data["p_c1"].items(), CYCLE[1:], ["-", "--", ":"],
                                      strict=False):
            cs = ax.contour(ax_pct, ax_pct, np.array(vals, dtype=float), levels=[data["level"]],
                            colors=[col], linestyles=[ls], linewidths=1.1)
            if ax is ax1:
                handles.append((cs.legend_elements()[0][0], f"P[C1] = 0.9 at d = {d}"))
        ax.plot(ax_pct[[0, -1]], ax_pct[[0, -1]], color="white", lw=0.8)
        ax.axvline(data["student"] * 100, color="white", lw=0.6, ls=":")
        ax.set_xlabel("chosen teacher accuracy (%)")
        ax.set_ylabel("rejected teacher\naccuracy (%)")
        ax.set_aspect("equal")
        ax.grid(False)
    ax1.legend(*zip(*handles, strict=True), loc="upper left", fontsize=6)
    label_panels((ax1, ax2))
    return fig


if __name__ == "__main__":
    sys.exit(script_main(sys.modules[__name__]))
