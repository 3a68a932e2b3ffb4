"""Figure 3: the best gain of SGD against κ over random configurations (Theorem 6.1's Θ(κ²)).

Each point is one random geometry (student and teacher accuracies, and error overlaps drawn at
d = 50) with κ > 0. Its measured best gain is the peak of the mean accuracy curve of
naive-preference SGD run to 3λ* (:func:`deltatheory.simulate`); the closed form is
``predict(g).best_gain``. On a log–log scale the κ² law is a line of slope 2.
"""

from __future__ import annotations

import sys

import numpy as np
from deltatheory.figures._common import PALETTE, figure, script_main
from matplotlib.ticker import NullFormatter

import deltatheory as dt
from deltatheory.rng import generator, seed_for

NAME = "fig3_kappa_law"
TITLE = "Best gain against kappa over random configurations"

DIM = 50
STEPS = 60
BATCH = 2000


def _random_geometries(n: int, rng: np.random.Generator) -> list[dt.Geometry]:
    out = []
    while len(out) < n:
        s = rng.uniform(0.7, 0.92)
        c, r = np.sort(rng.uniform(0.55, s - 0.02, size=2))[::-1]
        ov = dt.random_overlaps(DIM, 1, rng)[0]
        g = dt.Geometry(s, c, r, *ov)
        if float(dt.kappa(g)) > 0.01:  # below this the gain is under the SGD noise floor
            out.append(g)
    return out


def compute(quick: bool = False, seed: int = 0) -> dict:
    n = 10 if quick else 48
    trials = 100 if quick else 400
    rows = []
    for i, g in enumerate(_random_geometries(n, generator(seed, 0))):
        p = dt.predict(g)
        horizon = 3 * float(p.lambda_star)
        lr = horizon / float(dt.lambda_from_sgd(1.0, STEPS))  # STEPS steps of lr reach 3λ*
        res = dt.simulate(g, DIM, loss="pref", lr=lr, steps=STEPS, batch=BATCH, trials=trials,
                          seed=seed_for(seed, 1, i), records=STEPS)
        s = res.summary()
        rows.append({
            "student": float(g.student), "chosen": float(g.chosen),
            "rejected": float(g.rejected),
            "overlaps": [float(g.overlap_chosen), float(g.overlap_rejected),
                         float(g.overlap_teachers)],
            "kappa": float(p.kappa), "lambda_star": float(p.lambda_star),
            "predicted_best_gain": float(p.best_gain),
            "measured_best_gain": s["best_accuracy"]["mean"] - s["initial_accuracy"]["mean"],
            "measured_best_gain_ci95": [x - s["initial_accuracy"]["mean"]
                                        for x in s["best_accuracy"]["ci95"]],
            "measured_best_lambda": float(dt.lambda_from_sgd(lr, s["best_step"])),
        })
    rows.sort(key=lambda r: r["kappa"])
    return {"configs": rows,
            "settings": {"dim": DIM, "steps": STEPS, "batch": BATCH, "trials": trials,
                         "configs": n, "loss": "pref", "horizon": "3 lambda*",
                         "kappa_floor": 0.01}}


def plot(data: dict):
    fig, ax = figure(rows=1, height=2.7)
    rows = data["configs"]
    k = np.array([r["kappa"] for r in rows])
    pred = np.array([r["predicted_best_gain"] for r in rows]) * 100
    meas = np.array([r["measured_best_gain"] for r in rows]) * 100
    ci = np.array([r["measured_best_gain_ci95"] for r in rows]) * 100
    pos = meas > 0
    ax.errorbar(k[pos], meas[pos], yerr=[meas[pos] - np.maximum(ci[pos, 0], 1e-6),
                                         ci[pos, 1] - meas[pos]],
                fmt="o", color=PALETTE["blue"], ms=3, lw=0.7, label="SGD, best of mean curve")
    ax.plot(k, pred, "x", color=PALETTE["vermillion"], ms=4, label="closed form (same geometry)")
    grid = np.geomspace(k.min(), k.max(), 20)
    anchor = np.median(pred / k**2)
    ax.plot(grid, anchor * grid**2, color="0.3", ls="--", lw=0.9, label="slope 2 (∝ κ²)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("κ = f′(0) (Condition C1 margin)")
    ax.set_ylabel("best accuracy gain (percentage points)")
    dropped = int((~pos).sum())
    title = f"{len(rows)} random geometries at d = {data['settings']['dim']}"
    if dropped:
        title += f" ({dropped} with measured gain ≤ 0 not shown)"
    ax.set_title(title)
    ax.legend(loc="upper left")
    return fig


if __name__ == "__main__":
    sys.exit(script_main(sys.modules[__name__]))
