"""The documentation site: its generated pages, its build, and the check of its links.

The site is MkDocs Material (``mkdocs.yml`` at the repository root): the hand-written pages of
``docs/`` plus pages generated at build time from the repository by the hooks of
``docs/hooks.py`` (:mod:`deltatheory.docs._site`): one page per study folder under
``experiments/results/`` (its README, with tables drawn from its JSON), the classroom notebooks
executed, the theory figures drawn by their scripts, the CLI reference from the Typer app and
the API reference from the docstrings (mkdocstrings). The build is strict: a warning, a
notebook that fails, a broken generated block or a link to nothing fails it.

``deltatheory docs`` builds the site (``--serve`` serves it with live reload);
:func:`check_site` checks every internal link and image of a built site.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from deltatheory.errors import DeltaTheoryError

from ._links import check_site
from ._notebooks import NotebookFailed, execute_notebook
from ._reference import cli_reference
from ._studies import find_studies, headline_table, progress

__all__ = ["build", "serve", "check_site", "repository", "headline_table", "cli_reference",
           "execute_notebook", "NotebookFailed", "find_studies", "progress", "DOCS_PACKAGES"]

#: the packages the build needs (the ``docs`` extra), by import name
DOCS_PACKAGES = {"mkdocs": "mkdocs", "material": "mkdocs-material",
                 "mkdocstrings": "mkdocstrings", "mkdocstrings_handlers.python":
                 "mkdocstrings-python", "mkdocs_jupyter": "mkdocs-jupyter",
                 "bs4": "beautifulsoup4", "nbclient": "nbclient"}


def repository(start: Path | None = None) -> Path:
    """The repository whose ``mkdocs.yml`` the site is built from: the checkout this package
    is installed from (editable installs), else the current folder."""
    for cand in ([start] if start else []) + [Path(__file__).resolve().parents[2], Path.cwd()]:
        if (cand / "mkdocs.yml").is_file() and (cand / "docs").is_dir():
            return cand
    raise DeltaTheoryError("the documentation sources (mkdocs.yml, docs/) are not here: build "
                           "the site from a clone of the repository")


def _require() -> None:
    import importlib.util

    missing = [pkg for mod, pkg in DOCS_PACKAGES.items()
               if importlib.util.find_spec(mod.split(".")[0]) is None]
    if missing:
        raise DeltaTheoryError(f"the documentation needs {', '.join(missing)}; install them "
                               'with: pip install -e ".[docs]"')


def _env(full: bool) -> dict[str, str]:
    # FAST=1: notebooks at small trial counts and figures in --quick mode (the tests, a local
    # look); full: the classroom and publication settings (several minutes more)
    return {**os.environ, "DELTATHEORY_DOCS_FULL": "1" if full else "0",
            "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}  # banners only


def build(out: str | Path = "site", *, full: bool = False, root: Path | None = None,
          config: str | Path | None = None) -> float:
    """Build the site into ``out``, strictly (a warning fails the build); returns the seconds
    it took. Raises :class:`DeltaTheoryError` with the build's last lines when it fails.

    ``full``: notebooks and figures at their classroom/publication settings instead of the
    quick ones. ``config``: another MkDocs configuration (the tests use it to check that the
    build fails on a broken page).
    """
    _require()
    root = repository(root)
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise DeltaTheoryError(f"--out {out} is a file, not a folder")
    if out == root or out in root.parents:
        raise DeltaTheoryError(f"--out {out} would overwrite the repository")
    cfg = Path(config) if config else root / "mkdocs.yml"
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
                        "--config-file", str(cfg), "--site-dir", str(out)],
                       cwd=root, env=_env(full), capture_output=True, text=True)
    if r.returncode != 0:
        log = (r.stderr + r.stdout).strip().splitlines()
        why = [line for line in log if "WARNING" in line or "ERROR" in line or "Error" in line]
        raise DeltaTheoryError("the documentation build failed: " +
                               " | ".join((why or log)[-8:]))
    return time.perf_counter() - t0


def serve(*, dev_addr: str = "127.0.0.1:8000", full: bool = False,
          root: Path | None = None) -> int:
    """Serve the site with live reload at ``dev_addr`` (until interrupted); returns the exit
    code of ``mkdocs serve``."""
    _require()
    root = repository(root)
    return subprocess.call([sys.executable, "-m", "mkdocs", "serve", "--strict",
                            "--config-file", str(root / "mkdocs.yml"), "--dev-addr", dev_addr],
                           cwd=root, env=_env(full))
