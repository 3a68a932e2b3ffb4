"""What the command line prints: tables readable at 80 columns without a terminal, help text
for people, strict JSON, companions registered through entry points."""

import io
import json
import re

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

import deltatheory as dt
from deltatheory import cli
from deltatheory.cli import app

runner = CliRunner()


def _strict(text: str):
    def bad(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=bad)


@pytest.fixture(scope="module")
def checks():
    return dt.check_theorem(quick=True, seed=0), dt.check_corollary(
        quick=True, dims=[3, 100, 2000], seed=0)


def _render(fn, result) -> str:
    buf = io.StringIO()
    fn(result, Console(file=buf, width=80, force_terminal=False, color_system=None))
    return buf.getvalue()


def test_check_tables_fit_80_columns_and_never_cut_a_number(checks):
    th, co = checks
    text = _render(cli.render_theorem, th) + _render(cli.render_corollary, co)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for row in th.configs:  # every number of the table is there, whole
        m = row.measured_gain
        half = (m.ci95[1] - m.ci95[0]) / 2
        for s in (f"{row.kappa:+.3f}", f"{100 * m.mean:+.3f} +- {100 * half:.3f}",
                  f"{100 * row.reversed_gain.mean:+.3f}", str(row.dim)):
            assert s in text, s
        assert row.name.split()[0] in text  # the first column is not empty
    for row in co.rows:
        assert f"{row.p_c1_monte_carlo:.4f} +- {row.p_c1_monte_carlo_se:.4f}" in text


def test_check_all_output_through_a_pipe_is_readable(tmp_path):
    """CliRunner is not a terminal: rich falls back to 80 columns there, as in CI logs."""
    r = runner.invoke(app, ["check", "theorem", "--quick", "--out", str(tmp_path)],
                      env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "…" not in r.stdout
    assert max(len(x) for x in r.stdout.splitlines()) <= 80


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + (name,))


def test_help_is_plain_words_without_markup_or_broken_lines():
    root = typer.main.get_command(app)
    seen = list(_commands(root))
    assert {("llm", "train"), ("figures",), ("check", "all"), ("bridge",)} <= {p for p, _ in seen}
    for path, cmd in [((), root), *seen]:
        texts = [cmd.help or ""] + [p.help or "" for p in cmd.params]
        for text in texts:
            assert "``" not in text and ":func:" not in text and ":mod:" not in text, (path, text)
            for para in text.split("\n\n"):  # a paragraph never breaks mid-sentence
                assert "\n" not in para.strip(), (path, para)
        r = runner.invoke(app, [*path, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, path


def test_json_is_strict_when_lambda_star_is_infinite():
    """λ* = ∞ happens for valid geometries: --json must still be JSON (null plus a reason)."""
    args = ["predict", "--student-acc", "0.515", "--chosen-acc", "0.685", "--rejected-acc",
            "0.548", "--overlap-chosen", "0.27", "--overlap-rejected", "-0.41",
            "--overlap-teachers", "0.36", "--json"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    p = _strict(r.stdout)
    assert p["lambda_star"] is None and "infinite" in p["lambda_star_why"]
    r = runner.invoke(app, args[:-1])  # and the table says so in words
    assert r.exit_code == 0 and "inf" in r.stdout


def test_write_json_is_strict(tmp_path):
    from deltatheory._io import write_json

    write_json(tmp_path / "x.json", {"rho": float("nan"), "xs": [1.0, float("-inf")]})
    d = _strict((tmp_path / "x.json").read_text())
    assert d == {"rho": None, "rho_why": "not finite: nan", "xs": [1.0, None],
                 "xs_why": "null entries are not finite (-infinity)"}


def test_companions_come_from_entry_points():
    from importlib import metadata

    names = {ep.name for ep in metadata.entry_points(group="deltatheory.commands")}
    assert names == {"figures", "llm"}
    root = typer.main.get_command(app)
    assert {"figures", "llm"} <= set(root.commands)


def test_a_missing_companion_says_which_extra_to_install(monkeypatch):
    from importlib import metadata

    real = metadata.entry_points

    def without_llm(**kw):
        return [ep for ep in real(**kw) if ep.name != "llm"]

    monkeypatch.setattr(cli.metadata, "entry_points", without_llm)
    fresh = typer.Typer()
    monkeypatch.setattr(cli, "app", fresh)
    cli.register_companions()
    r = runner.invoke(fresh, ["llm", "run", "x.yaml"])
    assert r.exit_code == 2
    assert "llm companion is not available" in r.stderr and "deltatheory[llm]" in r.stderr
    assert r.stderr.strip().count("\n") == 0


def test_a_companion_that_fails_to_import_is_reported_not_dropped(monkeypatch):
    from importlib import metadata

    class Broken:
        name = "llm"

        def load(self):
            raise ImportError("No module named 'trl'")

    real = metadata.entry_points
    monkeypatch.setattr(cli.metadata, "entry_points",
                        lambda **kw: [e for e in real(**kw) if e.name != "llm"] + [Broken()])
    fresh = typer.Typer()
    monkeypatch.setattr(cli, "app", fresh)
    cli.register_companions()
    r = runner.invoke(fresh, ["llm"])
    assert r.exit_code == 2 and "No module named 'trl'" in r.stderr


def test_installed_names_are_under_deltatheory():
    import deltatheory.figures
    import deltatheory.llm

    assert re.search(r"[/\\]figures[/\\]__init__\.py$", deltatheory.figures.__file__)
    assert re.search(r"[/\\]llm[/\\]__init__\.py$", deltatheory.llm.__file__)

def test_no_generic_top_level_names_are_installed(tmp_path):
    """Outside the repository, `llm` and `figures` are not ours (PyPI's `llm` may be there)."""
    import subprocess
    import sys

    code = ("import importlib.util as u, json; print(json.dumps({n: getattr(u.find_spec(n), "
            "'origin', None) for n in ('llm', 'figures')}))")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, check=True)
    found = json.loads(r.stdout)
    import deltatheory

    root = str(__import__("pathlib").Path(deltatheory.__file__).resolve().parent.parent)
    assert not any(o and o.startswith(root) for o in found.values()), found
