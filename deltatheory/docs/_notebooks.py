"""The classroom notebooks, executed for the site: once per build, top to bottom; a notebook
that raises, or that draws no figure, fails the build with the cell and the error.

The notebooks are committed without outputs (``tests/test_notebooks.py`` checks that, and
their structure); the site shows executed copies, and this is the one place the test suite
executes them (through the documentation build of ``tests/test_docs.py``). ``FAST=1`` (the
default here) runs the small trial counts; ``FAST=0`` the classroom settings.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from deltatheory.errors import DeltaTheoryError

from ._cache import cached

__all__ = ["execute_notebook", "NotebookFailed"]

# executed copies by (content hash, FAST), so `deltatheory docs --serve` does not re-run an
# unchanged notebook on every rebuild (a fresh process, e.g. the tests, always executes)
_CACHE: dict[tuple[str, str], bytes] = {}


class NotebookFailed(DeltaTheoryError):
    """A notebook raised while it was executed for the site, or drew no figure."""


#: seconds one cell may run: FAST=1 cells take seconds (a hung one should not hold the build for
#: long); the classroom settings (``deltatheory docs --full``) run minutes per cell
TIMEOUT = {True: 300, False: 1200}


def execute_notebook(path: Path, *, fast: bool = True, timeout: int | None = None) -> bytes:
    """``path`` executed top to bottom in a fresh kernel (working directory: a temporary
    folder), as ``.ipynb`` bytes with its outputs. ``timeout``: the seconds one cell may run
    (default: :data:`TIMEOUT` of ``fast``).

    Raises :class:`NotebookFailed` naming the cell and the error when a cell raises or when no
    cell drew a figure (every classroom notebook plots).
    """
    raw = path.read_bytes()
    key = (hashlib.sha256(raw).hexdigest(), "1" if fast else "0")
    if key not in _CACHE:
        _CACHE[key] = cached(f"notebook-{path.stem}", raw + key[1].encode(),
                             lambda: _execute(path, raw, key[1],
                                              TIMEOUT[fast] if timeout is None else timeout))
    return _CACHE[key]


def _execute(path: Path, raw: bytes, fast: str, timeout: int) -> bytes:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    old = os.environ.get("FAST")
    os.environ["FAST"] = fast
    try:
        with tempfile.TemporaryDirectory(prefix="deltatheory-nb-") as cwd:
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": cwd}}).execute()
    except CellExecutionError as e:
        failed = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  and any(o.output_type == "error" for o in c.get("outputs", []))]
        where = ""
        if failed:
            first = nb.cells[failed[0]].source.strip().splitlines() or [""]
            where = f" at cell {failed[0] + 1} ({first[0][:60]!r})"
        raise NotebookFailed(f"notebook {path.name} failed to execute{where}: "
                             f"{e.ename}: {e.evalue}") from None
    except CellTimeoutError:
        raise NotebookFailed(f"notebook {path.name} failed to execute: a cell ran longer than "
                             f"{timeout} s (FAST={fast})") from None
    finally:
        if old is None:
            os.environ.pop("FAST", None)
        else:
            os.environ["FAST"] = old
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not any("image/png" in o.get("data", {}) for c in code for o in c.outputs):
        raise NotebookFailed(f"notebook {path.name} ran but drew no figure")
    return nbformat.writes(nb).encode("utf-8")
