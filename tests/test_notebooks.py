"""The classroom notebooks: checked for their structure here; executed top to bottom with FAST=1
(failing on any error, and on a notebook that draws no figure) by the documentation build that
tests/test_docs.py runs, which puts the executed copies on the site: one execution per test run."""

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = [p for p in sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
             if not p.stem.endswith("_executed")]  # executed copies from `jupyter execute`


def test_all_notebooks_are_found():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    text = "\n".join(c.source for c in nb.cells)
    assert "**Learning goals.**" in text
    assert "Predict before you run" in text
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'os.environ.get("FAST"' in params[0].source
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert solutions and all(c.metadata["jupyter"]["source_hidden"] for c in solutions)
    # committed without outputs (regenerate them by running the notebook; see the README)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    # no core logic in a notebook: everything it computes comes from the package
    assert all("def " not in c.source for c in code)
