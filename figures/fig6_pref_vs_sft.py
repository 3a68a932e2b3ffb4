"""Figure 6: preference tuning against SFT on the chosen answers — the best accuracy each reaches.

(a) Teachers' errors orthogonal to the student's, chosen accuracy varied (rejected 10 points
below): in this linear model SFT on weak labels *also* helps, because a teacher with independent
errors still carries signal the student lacks. (b) 80/70/60 with both teachers sharing the
student's error direction by an overlap ρ: SFT stops helping once the chosen teacher mostly repeats
the student's mistakes, while the pair keeps helping, because the shared part cancels in
θ̂_c − θ̂_r. Preference: closed form (:func:`deltatheory.predict`) and naive-preference SGD; SFT:
SGD on the chosen labels (:func:`deltatheory.simulate`), best of the mean curve in a fixed budget.
The saved numbers also hold, per point, naive-preference SGD at the recorded step nearest λ*
(``pref_at_lambda_star_sgd``: step, lr, batch, mean and 95 % CI) and the geometry, so the SGD
value can be checked without selection bias against its finite-sample expectation.
"""

from __future__ import annotations

import sys

import numpy as np
from deltatheory.figures._common import PALETTE, figure, label_panels, script_main

import deltatheory as dt
from deltatheory.rng import seed_for

NAME = "fig6_pref_vs_sft"
TITLE = "Preference against SFT: best reachable accuracy"

STUDENT = 0.8
DIM = 100
PREF_STEPS, PREF_BATCH = 60, 2000
SFT_LR, SFT_STEPS, SFT_BATCH = 0.02, 500, 256
GEOMETRY_FIELDS = ("student", "chosen", "rejected", "overlap_chosen", "overlap_rejected",
                   "overlap_teachers")


def _measure(g: dt.Geometry, trials: int, seed: int) -> dict:
    p = dt.predict(g)
    lr = 3 * float(p.lambda_star) / float(dt.lambda_from_sgd(1.0, PREF_STEPS))
    res = dt.simulate(g, DIM, loss="pref", lr=lr, steps=PREF_STEPS, batch=PREF_BATCH,
                      trials=trials, seed=seed_for(seed, 0), records=PREF_STEPS)
    pref = res.summary()
    # the recorded step nearest λ* (chosen by the theory, not by the noisy curve): an unbiased
    # estimate of the expected accuracy after n = batch·step fresh samples
    i = int(np.argmin(np.abs(res.steps - float(dt.steps_for_lambda(p.lambda_star, lr)))))
    m, lo, hi = dt.mean_ci(res.accuracy[:, i])
    sft = dt.simulate(g, DIM, loss="sft-chosen", lr=SFT_LR, steps=SFT_STEPS, batch=SFT_BATCH,
                      trials=trials, seed=seed_for(seed, 1), records=50).summary()
    return {"geometry": {k: float(getattr(g, k)) for k in GEOMETRY_FIELDS},
            "kappa": float(p.kappa), "pref_best_closed_form": float(p.best_accuracy),
            "pref_best_sgd": pref["best_accuracy"],
            "pref_at_lambda_star_sgd": {"step": int(res.steps[i]), "lr": lr,
                                        "batch": PREF_BATCH, "mean": float(m),
                                        "ci95": [float(lo), float(hi)]},
            "sft_best_sgd": sft["best_accuracy"],
            "sft_best_step": sft["best_step"], "sft_final": sft["final_accuracy"]}


def compute(quick: bool = False, seed: int = 0) -> dict:
    trials = 40 if quick else 200
    chosen = np.linspace(0.62, 0.96, 4 if quick else 9)
    rho = np.linspace(0.0, 0.9, 4 if quick else 10)
    panel_a = [{"chosen": float(c), "rejected": float(c - 0.1),
                **_measure(dt.Geometry(STUDENT, c, c - 0.1), trials, seed_for(seed, 0, i))}
               for i, c in enumerate(chosen)]
    panel_b = [{"overlap": float(r),
                **_measure(dt.Geometry(STUDENT, 0.7, 0.6, r, r, r**2), trials,
                           seed_for(seed, 1, i))}
               for i, r in enumerate(rho)]
    return {"student": STUDENT, "dim": DIM, "chosen_sweep": panel_a, "overlap_sweep": panel_b,
            "settings": {"trials": trials, "pref": {"loss": "pref", "steps": PREF_STEPS,
                                                    "batch": PREF_BATCH, "horizon": "3 lambda*"},
                         "sft": {"loss": "sft-chosen", "lr": SFT_LR, "steps": SFT_STEPS,
                                 "batch": SFT_BATCH},
                         "overlap_sweep_geometry": "80/70/60, overlaps (rho, rho, rho^2)"}}


def _band(ax, x, rows, key, base, **kw):
    m = (np.array([r[key]["mean"] for r in rows]) - base) * 100
    ci = (np.array([r[key]["ci95"] for r in rows]) - base) * 100
    ax.errorbar(x, m, yerr=[m - ci[:, 0], ci[:, 1] - m], capsize=1.5, **kw)


def plot(data: dict):
    fig, (ax1, ax2) = figure(rows=2, height=2.2)
    for ax, rows, xkey in ((ax1, data["chosen_sweep"], "chosen"),
                           (ax2, data["overlap_sweep"], "overlap")):
        x = np.array([r[xkey] for r in rows]) * (100 if xkey == "chosen" else 1)
        base = data["student"]
        ax.plot(x, [(r["pref_best_closed_form"] - base) * 100 for r in rows],
                color=PALETTE["blue"], label="preference, closed form (d → ∞)")
        _band(ax, x, rows, "pref_best_sgd", base, fmt="o", color=PALETTE["blue"], ms=3, lw=0.8,
              label=f"preference, SGD (d = {data['dim']})")
        _band(ax, x, rows, "sft_best_sgd", base, fmt="s--", color=PALETTE["vermillion"], ms=3,
              lw=0.9, label="SFT on chosen, SGD")
        ax.set_ylabel("best gain over the\nstudent (points)")
    ax1.set_xlabel("chosen teacher accuracy (%; rejected 10 points lower)")
    ax2.set_xlabel("overlap ρ of both teachers' errors with the student's (80/70/60)")
    ax1.set_yscale("log")
    ax2.axhline(0.0, color="0.4", ls=":", lw=0.9)
    ax1.legend(loc="upper left")
    label_panels((ax1, ax2))
    return fig


if __name__ == "__main__":
    sys.exit(script_main(sys.modules[__name__]))
