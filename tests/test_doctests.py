"""The doctests of the companions. ``pytest --doctest-modules deltatheory`` collects the core's;
the companions are installed under deltatheory.* from other folders (llm/, figures/), so their
doctests are run here by import name, and a module list that found none would fail."""

import doctest
import importlib
import pkgutil

import deltatheory.figures
import deltatheory.llm
import pytest


def _modules(pkg):
    yield pkg.__name__
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        yield m.name


MODULES = sorted({*_modules(deltatheory.llm), *_modules(deltatheory.figures)})


def test_the_module_list_is_complete():
    for name in ("deltatheory.llm.models", "deltatheory.llm.tasks", "deltatheory.llm.losses",
                 "deltatheory.llm.studies.ladder", "deltatheory.figures._common"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    if name.startswith("deltatheory.llm"):
        pytest.importorskip("torch", reason="the llm extra is part of the quickstart install")
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0, f"{name}: {res.failed} of {res.attempted} doctests failed"


def test_the_companions_have_doctests():
    attempted = 0
    for name in MODULES:
        attempted += doctest.testmod(importlib.import_module(name)).attempted
    assert attempted >= 8
