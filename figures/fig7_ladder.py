"""Figure 7: predicted κ against the observed DPO gain on a real model ladder.

Each point is one (chosen, rejected) pair of teacher rungs. x: κ estimated by the bridge from the
four models' answers on held-out items (bootstrap 95 % CI). y (a): the student's held-out
accuracy change after DPO on the pairs where the teachers disagree (paired bootstrap 95 % CI);
(b): the change in its mean log-probability margin for the right answer, a finer measure of the
same update. Filled circles are pairs in the ladder's order; open triangles are the reversed
controls. The title gives Spearman ρ (predicted κ vs observed accuracy gain) with its CI.

The numbers are measured, not simulated: ``compute`` reads the ladder summary shipped in
``deltatheory/data`` (written by ``deltatheory llm ladder experiments/ladder.yaml``), and the
ladder command draws this same figure for a new run.
"""

from __future__ import annotations

import json
import sys
from importlib import resources

import numpy as np

from ._common import PALETTE, figure, label_panels, script_main

NAME = "fig7_ladder"
TITLE = "Predicted kappa against observed DPO gain on a real model ladder"
DATA = "ladder_smollm2.json"


def _summary(data: dict):
    # the typed seam: a renamed or missing key fails here, at load, not deep inside the plot
    from deltatheory.results import LadderSummary

    return LadderSummary.from_dict({k: v for k, v in data.items()
                                    if k in LadderSummary.__dataclass_fields__})


def compute(quick: bool = False, seed: int = 0) -> dict:
    """The shipped ladder measurement (``quick`` and ``seed`` do not apply: it is data)."""
    text = resources.files("deltatheory").joinpath("data", DATA).read_text()
    data = _summary(json.loads(text)).to_dict()
    data["settings"] = {"source": f"deltatheory/data/{DATA}",
                        "command": "deltatheory llm ladder experiments/ladder.yaml"}
    return data


def plot(data: dict):
    s = _summary(data)
    arms = [a for a in s.arms if a.bridge]
    fig, axes = figure(2, height=2.2)
    panels = [("observed_gain", "observed_gain_ci95", 100.0, "observed accuracy change (pts)"),
              ("margin_change", "margin_change_ci95", 1.0, "change in log-prob margin")]
    for ax, (key, ci_key, scale, ylabel) in zip(axes, panels, strict=True):
        for control, marker, face in (("none", "o", PALETTE["blue"]),
                                      ("reversed", "^", "white")):
            sel = [a for a in arms if a.control == control]
            if not sel:
                continue
            k = np.array([a.bridge["kappa"] for a in sel])
            kci = np.array([a.bridge["kappa_ci95"] for a in sel])
            y = scale * np.array([getattr(a, key) for a in sel])
            yci = scale * np.array([getattr(a, ci_key) or [getattr(a, key)] * 2 for a in sel])
            ax.errorbar(k, y, xerr=[k - kci[:, 0], kci[:, 1] - k],
                        yerr=[y - yci[:, 0], yci[:, 1] - y], fmt=marker, mfc=face,
                        mec=PALETTE["blue"], ecolor=PALETTE["sky"], elinewidth=0.7, capsize=1.5,
                        label="pair (chosen earlier rung)" if control == "none" else
                        "reversed control")
        ax.axhline(0, color=PALETTE["black"], lw=0.6)
        ax.axvline(0, color=PALETTE["black"], lw=0.6, ls=":")
        ax.set_xlabel("predicted κ (bridge, held-out items)")
        ax.set_ylabel(ylabel)
    r = s.spearman
    rho = "n/a" if r.rho is None else f"{r.rho:.2f}" + (
        f" [{r.ci95[0]:.2f}, {r.ci95[1]:.2f}]" if r.ci95 else "")
    axes[0].set_title(f"Spearman ρ = {rho}, {r.n} arms")
    if arms:
        axes[0].legend(loc="best")
    else:
        axes[0].text(0.5, 0.5, "no arm has a bridge prediction", transform=axes[0].transAxes,
                     ha="center")
    label_panels(axes)
    return fig


if __name__ == "__main__":
    sys.exit(script_main(sys.modules[__name__]))
