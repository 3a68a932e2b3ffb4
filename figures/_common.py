"""What every figure script shares: the house style, atomic saving, and the command line.

A figure module defines ``NAME``, ``TITLE``, ``compute(quick, seed) -> dict`` (every number comes
from :mod:`deltatheory`; the dict is JSON-ready) and ``plot(data) -> Figure``. :func:`make` runs
both and writes ``NAME.png``, ``NAME.pdf`` and ``NAME.json`` (the numbers plotted and the settings
that produced them) into the output folder, each atomically.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import ModuleType

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import deltatheory  # noqa: E402
from deltatheory._io import atomic_path, ensure_writable, write_json  # noqa: E402
from deltatheory.errors import DeltaTheoryError  # noqa: E402

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
CYCLE = [PALETTE[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky", "black")]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), "-"]

COLUMN_WIDTH = 3.4  # inches: one column of a two-column paper
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 6.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.3,
    "lines.markersize": 3.5,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=CYCLE),
    "pdf.fonttype": 42,  # embed TrueType: editable text in the PDF
    "image.cmap": "cividis",
}


def figure(rows: int = 1, height: float = 2.4, **kw):
    """A figure one column wide with ``rows`` stacked panels of ``height`` inches each."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows, 1, figsize=(COLUMN_WIDTH, height * rows),
                                 layout="constrained", **kw)
    return fig, axes


def label_panels(axes) -> None:
    """Write (a), (b), … in the top-left corner of each panel."""
    for i, ax in enumerate(axes):
        # offset in points, so the label clears a tick label at the very top of the axis
        ax.annotate(f"({chr(97 + i)})", xy=(0, 1), xycoords="axes fraction", xytext=(-4, 5),
                    textcoords="offset points", ha="right", va="bottom", fontweight="bold")


def shipped_study(name: str, command: str) -> dict:
    """A measured study shipped as ``deltatheory/data/NAME`` (the figures that plot data, not
    simulations), with its source and the command that made it as settings."""
    import json
    from importlib import resources

    path = resources.files("deltatheory").joinpath("data", name)
    if not path.is_file():
        raise DeltaTheoryError(f"deltatheory/data/{name} is not shipped yet: run `{command}`, "
                               "which draws this figure")
    data = json.loads(path.read_text())
    data["settings"] = {"source": f"deltatheory/data/{name}", "command": command}
    return data


def make(module: ModuleType, out: str | Path, *, quick: bool = False, seed: int = 0) -> dict:
    """Compute, plot and save one figure; returns the saved numbers (with their settings)."""
    out = ensure_writable(out)
    started = time.perf_counter()
    data = module.compute(quick=quick, seed=seed)
    data = {"figure": module.NAME, "title": module.TITLE,
            "settings": {"quick": quick, "seed": seed, **data.pop("settings", {})},
            "deltatheory_version": deltatheory.__version__, **data}
    with plt.rc_context(STYLE):
        fig = module.plot(data)
        try:
            for ext in ("png", "pdf"):
                with atomic_path(out / f"{module.NAME}.{ext}") as tmp:
                    fig.savefig(tmp, format=ext, metadata=_metadata(module, ext))
        finally:
            plt.close(fig)
    data["seconds"] = round(time.perf_counter() - started, 2)
    write_json(out / f"{module.NAME}.json", data)
    return data


def render(plot, data: dict, path: str | Path) -> None:
    """``plot(data)`` in the house style, saved atomically (format from the suffix)."""
    path = Path(path)
    with plt.rc_context(STYLE):
        fig = plot(data)
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=path.suffix.lstrip("."))
        finally:
            plt.close(fig)


def _metadata(module: ModuleType, ext: str) -> dict:
    if ext == "pdf":
        return {"Title": module.TITLE, "Creator": f"deltatheory {deltatheory.__version__}",
                "CreationDate": None}  # no date: the same inputs give the same file
    return {"Title": module.TITLE, "Software": f"deltatheory {deltatheory.__version__}"}


def script_main(module: ModuleType, argv: list[str] | None = None) -> int:
    """The command line of one figure script: ``--quick``, ``--seed``, ``--out``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m deltatheory.figures.{module.NAME}",
        description=f"{module.TITLE}. Writes {module.NAME}.png, .pdf and .json.")
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds: fewer trials and grid points (CI and the tests)")
    parser.add_argument("--seed", type=int, default=0, help="seed of all randomness (default 0)")
    parser.add_argument("--out", default="results/figures",
                        help="output folder (default results/figures)")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"--seed={args.seed} must be a non-negative whole number")
    try:
        data = make(module, args.out, quick=args.quick, seed=args.seed)
    except DeltaTheoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{module.NAME}: wrote {Path(args.out) / module.NAME}.{{png,pdf,json}} "
          f"in {data['seconds']} s")
    return 0
