"""One script per figure of the theory; ``deltatheory figures`` regenerates them all.

Each module here is runnable (``python -m deltatheory.figures.fig1_ray --quick``) and importable;
see :mod:`deltatheory.figures._common` for what a figure module defines. Installed as
``deltatheory.figures`` (the repository folder is ``figures/``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

FIGURES = (
    "fig1_ray",
    "fig2_corollary",
    "fig3_kappa_law",
    "fig4_training",
    "fig5_heatmap",
    "fig6_pref_vs_sft",
    "fig8_ladder_study",
    "fig9_separation_study",
)


def render(plot, data: dict, path) -> None:
    """Draw ``plot(data)`` in the house style and save it atomically (format from the suffix)."""
    from ._common import render as _render

    _render(plot, data, path)


def load(name: str) -> ModuleType:
    """The figure module called ``name`` (one of :data:`FIGURES`)."""
    if name not in FIGURES:
        from deltatheory.errors import DeltaTheoryError

        raise DeltaTheoryError(f"figure {name!r} is not one of {', '.join(FIGURES)}")
    return importlib.import_module(f"deltatheory.figures.{name}")
