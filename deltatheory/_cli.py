"""What every ``deltatheory`` command shares, the companions' included: the consoles, one-line
errors (exit code 2), strict ``--json`` output, and tables that stay readable at 80 columns.

A table never cuts a number: numeric columns do not wrap and are never shortened with an
ellipsis; only text columns (names, titles) wrap, at spaces. Tables use a light box with one
space between columns so that the widest (Theorem 6.1's) fits in 80 columns without a terminal
(CI logs, ``| tee``, ``> file``), where rich falls back to 80 columns.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Annotated, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ._io import dumps

__all__ = ["out", "err", "fail", "emit", "table", "kv_table", "Json", "Quick", "Seed"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON (strict: "
                                    "a value that is not finite is null, with a reason).")]
Quick = Annotated[bool, typer.Option("--quick", help="Small settings that finish in seconds.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed for all randomness.")]


def fail(msg: str) -> NoReturn:
    """Print ``error: msg`` on one line of stderr and exit with code 2."""
    err.print(f"error: {msg}", markup=False, soft_wrap=True)
    raise typer.Exit(2)


def emit(payload, as_json: bool, render: Callable | None) -> None:
    """Strict JSON on stdout with ``--json``; otherwise ``render(payload)``."""
    if as_json:
        sys.stdout.write(dumps(payload, indent=2) + "\n")
    elif render is not None:
        render(payload)


def table(title: str | None, columns: Sequence[str | tuple[str, str]]) -> Table:
    """A table whose numeric columns never wrap or get cut.

    ``columns``: a header, or ``(header, "text")`` for a column that may wrap at spaces (names,
    titles), or ``(header, "word")`` for short left-aligned words that never wrap; every other
    column is numeric (right-aligned, never wrapped, never cut).
    """
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
              padding=(0, 0), show_edge=False)  # the box puts one space between columns
    for col in columns:
        header, kind = (col, "number") if isinstance(col, str) else col
        if kind == "text":
            t.add_column(header, justify="left", overflow="fold", min_width=10)
        elif kind == "word":
            t.add_column(header, justify="left", no_wrap=True, overflow="fold")
        else:
            t.add_column(header, justify="right", no_wrap=True, overflow="fold")
    return t


def kv_table(title: str, rows) -> Table:
    """Two columns, name and value, for one result."""
    t = table(title, [("", "text"), ""])
    t.show_header = False
    for k, v in rows:
        t.add_row(k, v)
    return t
