"""The documentation site: its generated pages, its build, and the check of its links.

The site is MkDocs Material (``mkdocs.yml`` at the repository root): the hand-written pages of
``docs/`` plus pages generated at build time from the repository by the hooks of
``docs/hooks.py`` (:mod:`deltatheory.docs._site`): one page per study folder under
``experiments/results/`` (its README, with tables drawn from its JSON), the classroom notebooks
executed, the figures the pages show drawn by their scripts, the CLI reference from the Typer
app and the API reference from the docstrings (mkdocstrings). The build is strict: a warning, a
notebook that fails, a broken generated block or a link to nothing fails it.

``deltatheory docs`` builds the site (``--serve`` serves it with live reload) into a new folder
that replaces ``--out`` only once it has built (:func:`check_out` says which folders it may
replace); :func:`check_site` checks every internal link and image of a built site.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from deltatheory.errors import DeltaTheoryError

from ._links import check_site
from ._notebooks import NotebookFailed, execute_notebook
from ._reference import cli_reference
from ._studies import find_studies, headline_table, progress

__all__ = ["build", "serve", "check_out", "check_site", "repository", "headline_table",
           "cli_reference", "execute_notebook", "NotebookFailed", "find_studies", "progress",
           "DOCS_PACKAGES", "SITE_MARKER"]

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
    # look); full: the classroom and publication settings (several minutes more).
    # PYTHONDONTWRITEBYTECODE: MkDocs imports docs/hooks.py from the source tree, which would
    # otherwise leave docs/__pycache__/ there (and copy it onto the site)
    return {**os.environ, "DELTATHEORY_DOCS_FULL": "1" if full else "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}  # banners only


#: the file every build writes into its site folder: an existing, non-empty ``--out`` folder is
#: replaced only when it has one (it is then a previous build, not someone's folder)
SITE_MARKER = ".deltatheory-site"


def check_out(out: Path, root: Path) -> None:
    """Refuse an ``--out`` folder that a build must not replace: a file; the repository, a
    folder above it or one inside it other than ``site/`` (or below it); a non-empty folder
    that is not a previous site build (no :data:`SITE_MARKER` in it).

    Raises :class:`DeltaTheoryError` saying why; ``out`` and ``root`` are resolved paths.
    """
    if out.exists() and not out.is_dir():
        raise DeltaTheoryError(f"--out {out} is a file, not a folder")
    if out == root or out in root.parents:
        raise DeltaTheoryError(f"--out {out} would overwrite the repository")
    site = root / "site"
    if out.is_relative_to(root) and not out.is_relative_to(site):
        raise DeltaTheoryError(f"--out {out} is inside the repository: build into {site} (or "
                               "a folder below it) or a folder outside the repository")
    if out.is_dir() and any(out.iterdir()) and not (out / SITE_MARKER).is_file():
        raise DeltaTheoryError(f"--out {out} is a non-empty folder that is not a site built by "
                               f"deltatheory docs (it has no {SITE_MARKER}); the build replaces "
                               "its --out folder: give a new or empty one")


def build(out: str | Path = "site", *, full: bool = False, root: Path | None = None,
          config: str | Path | None = None) -> float:
    """Build the site into ``out``, strictly (a warning fails the build); returns the seconds
    it took. Raises :class:`DeltaTheoryError` with the build's last lines when it fails.

    The site is built into a new folder beside ``out`` and renamed into place when the build
    has succeeded, so a failed build leaves a previous site as it was. ``out`` must pass
    :func:`check_out`: a new or empty folder, or a previous build (it is replaced whole).

    ``full``: notebooks and figures at their classroom/publication settings instead of the
    quick ones. ``config``: another MkDocs configuration (the tests use it to check that the
    build fails on a broken page).
    """
    _require()
    root = repository(root).resolve()
    out = Path(out).resolve()
    check_out(out, root)
    cfg = Path(config) if config else root / "mkdocs.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    # a sibling, so that the rename stays on one file system; mkdir (not mkdtemp) for the
    # usual permissions of a new folder
    staging = out.parent / f".{out.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    t0 = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                            "--config-file", str(cfg), "--site-dir", str(staging)],
                           cwd=root, env=_env(full), capture_output=True, text=True)
        if r.returncode != 0:
            log = (r.stderr + r.stdout).strip().splitlines()
            why = [line for line in log if "WARNING" in line or "ERROR" in line
                   or "Error" in line]
            raise DeltaTheoryError("the documentation build failed: " +
                                   " | ".join((why or log)[-8:]))
        (staging / SITE_MARKER).write_text(
            "This folder is a site built by `deltatheory docs`; the next build replaces it "
            "whole.\n", encoding="utf-8")
        check_out(out, root)  # the same folder as before the build (nobody filled it since)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            out.rename(old)
        staging.rename(out)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
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
