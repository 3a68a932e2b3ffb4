"""The hidden-file check of tests/test_cli.py catches what atomic_path can leave behind."""

import os
import tempfile
from pathlib import Path

import pytest

from deltatheory._io import atomic_path

LEFTOVER = ".*"  # the pattern tests/test_cli.py::test_simulate_json_and_out_file globs for


def test_leftover_pattern_catches_atomic_path_temp_files(tmp_path, monkeypatch):
    # named the way atomic_path names them: ".{name}.{random}{suffix}"
    fd, made = tempfile.mkstemp(dir=tmp_path, prefix=".sim.json.", suffix=".json")
    os.close(fd)
    assert list(tmp_path.glob(LEFTOVER)) == [Path(made)]
    assert not list(tmp_path.glob(".*tmp")), "the old pattern missed it"
    Path(made).unlink()

    # and a real one: atomic_path interrupted after creating its file, with its cleanup disabled
    monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: None)
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "sim.json") as tmp:
        tmp.write_text("{")
        raise RuntimeError("interrupted")
    monkeypatch.undo()
    left = list(tmp_path.glob(LEFTOVER))
    assert left == [tmp] and tmp.name.startswith(".sim.json.") and tmp.suffix == ".json"
    assert not (tmp_path / "sim.json").exists()


def test_atomic_path_leaves_nothing_hidden(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.json") as tmp:
        tmp.write_text("{")
        raise RuntimeError("interrupted")
    with atomic_path(tmp_path / "b.json") as tmp:
        tmp.write_text("{}")
    assert not list(tmp_path.glob(LEFTOVER))
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]
