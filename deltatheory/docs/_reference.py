"""Reference pages generated from the code: the command line (from the Typer app itself, so a
new option appears on the site with no edit) and one API page per module (mkdocstrings renders
the docstrings), and live command output for the pages that show it."""

from __future__ import annotations

import html
import shlex

__all__ = ["cli_reference", "command_output", "API_MODULES"]

#: the modules of the API reference, by section (the private ``_cli``/``_io`` helpers and the
#: figure scripts' plotting code are documented in the module map, not here)
API_MODULES = {
    "The theory core": ["deltatheory", "deltatheory.geometry", "deltatheory.closed_forms",
                        "deltatheory.corollary", "deltatheory.losses", "deltatheory.engines",
                        "deltatheory.simulate", "deltatheory.checks", "deltatheory.bridge",
                        "deltatheory.stats", "deltatheory.rng", "deltatheory.errors",
                        "deltatheory.docs"],
    "Real models (the llm companion)": [
        "deltatheory.llm.models", "deltatheory.llm.tasks", "deltatheory.llm.sections",
        "deltatheory.llm.generate", "deltatheory.llm.pairs", "deltatheory.llm.logprobs",
        "deltatheory.llm.choice", "deltatheory.llm.losses", "deltatheory.llm.train",
        "deltatheory.llm.config", "deltatheory.llm.runs", "deltatheory.llm.rungs",
        "deltatheory.llm.studies.experiment", "deltatheory.llm.studies.ladder",
        "deltatheory.llm.studies.separation", "deltatheory.llm.studies.precision",
        "deltatheory.llm.harness", "deltatheory.llm.harness_tasks"],
    "Figures": ["deltatheory.figures"],
}


def _text(s: str) -> str:
    """Help text as Markdown: HTML-escaped, paragraphs kept, click's ``\\b`` markers dropped."""
    paras = [" ".join(p.replace("\b", "").split()) for p in s.split("\n\n")]
    return "\n\n".join(html.escape(p, quote=False) for p in paras if p)


def _cell(s: str) -> str:
    return _text(s).replace("\n\n", "<br>").replace("|", "\\|")


def cli_reference(app=None, *, heading: int = 2) -> str:
    """Every command of ``app`` (default: the installed ``deltatheory`` app with its
    companions): usage, help, arguments and options, from the Typer app itself."""
    import typer
    from typer import _click as click

    if app is None:
        from deltatheory.cli import app
    root = typer.main.get_command(app)
    out: list[str] = []

    def one(cmd, path: list[str], parent, depth: int) -> None:
        ctx = click.Context(cmd, info_name=path[-1], parent=parent)
        if getattr(cmd, "hidden", False):
            return
        out.append(f"{'#' * depth} `{' '.join(path)}`\n")
        if cmd.help:
            out.append(_text(cmd.help) + "\n")
        usage = " ".join(path + cmd.collect_usage_pieces(ctx))
        out.append(f"```text\n{usage}\n```\n")
        rows = []
        for p in cmd.get_params(ctx):
            rec = p.get_help_record(ctx)
            if rec is None:
                continue
            kind = "argument" if p.param_type_name == "argument" else "option"
            rows.append(f"| `{rec[0]}` | {kind} | {_cell(rec[1] or '')} |")
        if rows:
            out.append("| name | kind | description |\n|---|---|---|\n" + "\n".join(rows) + "\n")
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                one(cmd.get_command(ctx, name), path + [name], ctx, min(depth + 1, 4))

    one(root, ["deltatheory"], None, heading)
    return "\n".join(out)


def command_output(args: str) -> str:
    """``deltatheory ARGS`` run in process, as a console block (its real output when the page
    was built; a command that fails fails the build)."""
    from typer.testing import CliRunner

    from deltatheory.cli import app
    from deltatheory.errors import DeltaTheoryError

    r = CliRunner().invoke(app, shlex.split(args), env={"COLUMNS": "80"})
    if r.exit_code != 0:
        raise DeltaTheoryError(f"'deltatheory {args}' exited with {r.exit_code} while building "
                               f"the documentation: {r.output.strip()[-300:]}")
    return f"```console\n$ deltatheory {args}\n{r.output.rstrip()}\n```\n"
