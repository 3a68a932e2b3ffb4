"""Benchmarks are opt-in: ``pytest benchmarks --benchmark-enable`` (see README).

The real-model benchmarks (marker ``llm``) also need ``--run-llm``: they load SmolLM2-135M and
take a few minutes.
"""

import pytest


def pytest_addoption(parser):
    parser.addoption("--run-llm", action="store_true",
                     help="run the real-model benchmarks (marker llm)")


def pytest_configure(config):
    config.addinivalue_line("markers", "llm: real-model benchmark, opt-in with --run-llm")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-llm"):
        return
    off = pytest.mark.skip(reason="opt-in: pass --run-llm")
    for item in items:
        if "llm" in item.keywords:
            item.add_marker(off)
