"""``deltatheory figures``: the figures companion's command (registered through the
``deltatheory.commands`` entry point)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deltatheory._cli import Json, Quick, Seed, emit, err, fail, out, table
from deltatheory.errors import DeltaTheoryError

HELP = ("Regenerate every theory figure: NAME.png, NAME.pdf and NAME.json (the numbers plotted, "
        "with their settings) per figure. --quick takes well under a minute in all.")


def figures_cmd(quick: Quick = False, seed: Seed = 0,
                out_dir: Annotated[Path, typer.Option("--out", help="Folder for the figures.")
                                   ] = Path("results/figures"),
                only: Annotated[list[str] | None, typer.Option(
                    "--only", help="Regenerate only this figure (repeatable), e.g. fig1_ray.")
                ] = None,
                as_json: Json = False):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from deltatheory._io import ensure_writable

    from . import FIGURES, load
    from ._common import make

    names = list(only) if only else list(FIGURES)
    try:
        for name in names:
            load(name)
        ensure_writable(out_dir)
    except DeltaTheoryError as e:
        fail(str(e))
    done = {}
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=err, disable=as_json, transient=True) as bar:
        task = bar.add_task("figures", total=len(names))
        for name in names:
            bar.update(task, description=f"figures: {name}")
            try:
                data = make(load(name), out_dir, quick=quick, seed=seed)
            except DeltaTheoryError as e:
                fail(str(e))
            done[name] = {"title": data["title"], "seconds": data["seconds"],
                          "files": [str(out_dir / f"{name}.{ext}") for ext in
                                    ("png", "pdf", "json")]}
            bar.advance(task)

    def render(p):
        t = table(f"figures written to {out_dir}", [("figure", "word"), ("title", "text"),
                                                     "seconds"])
        for name, row in p["figures"].items():
            t.add_row(name, row["title"], f"{row['seconds']:.1f}")
        out.print(t)

    emit({"out": str(out_dir), "quick": quick, "seed": seed, "figures": done}, as_json, render)


def register(app: typer.Typer) -> None:
    """Add ``figures`` to the core command line."""
    app.command("figures", help=HELP)(figures_cmd)
