"""``deltatheory llm``: the real-model companion's commands (needs the ``llm`` extra)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from deltatheory.errors import DeltaTheoryError

app = typer.Typer(no_args_is_help=True, help="Delta-learning DPO on real language models: "
                  "models, generate, pairs, train, eval, run. Needs the llm extra.")


def _fail(msg: str):
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def _ready() -> None:
    from . import require_extra

    try:
        require_extra()
    except DeltaTheoryError as e:
        _fail(str(e))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _emit(payload, as_json: bool, text: str) -> None:
    sys.stdout.write(json.dumps(payload, indent=2) + "\n" if as_json else text + "\n")


Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.command("models")
def models_cmd(as_json: Json = False):
    """List the built-in models and the recipes for weaker rungs."""
    from .models import list_models

    rows = list_models()
    _emit(rows, as_json, "\n".join(
        f"{r['name']:28s} {'ok ' if r['available'] else 'missing'}  {r['about']}"
        + ("" if r["available"] else f"  ({r['install']})") for r in rows))


@app.command("generate")
def generate_cmd(model: Annotated[str, typer.Option(help="Model name, NAME@prune-S, hub id or "
                                                    "path.")],
                 task: Annotated[str, typer.Option(help="bold-sections, arithmetic or "
                                                   "jsonl:PATH.")] = "bold-sections",
                 split: Annotated[str, typer.Option(help="train or test.")] = "test",
                 n: Annotated[int, typer.Option(help="Number of prompts.")] = 8,
                 max_new_tokens: int = 256, batch_size: int = 8, temperature: float = 0.0,
                 seed: int = 0,
                 out: Annotated[Path, typer.Option(help="Run folder.")] = Path("results/llm"),
                 as_json: Json = False):
    """Answer a task's prompts (resumable); prints the mean task score."""
    _ready()
    from deltatheory._io import ensure_writable

    from .generate import generate
    from .tasks import get_task

    try:
        t = get_task(task)
        rows = t.prompts(split, n, seed)
        ensure_writable(out)
        ans = generate(model, rows, out, max_new_tokens=max_new_tokens, batch_size=batch_size,
                       temperature=temperature, seed=seed)
        scores = [t.score(r, ans[r["id"]]) for r in rows]
    except DeltaTheoryError as e:
        _fail(str(e))
    payload = {"model": model, "task": task, "split": split, "n": n,
               "mean_score": sum(scores) / len(scores)}
    _emit(payload, as_json, f"{model} on {task}/{split} (n={n}): mean score "
          f"{payload['mean_score']:.3f}; responses in {out}/responses/")


@app.command("eval")
def eval_cmd(model: Annotated[str, typer.Option(help="Model spec.")],
             task: str = "bold-sections", n: int = 32, max_new_tokens: int = 256,
             batch_size: int = 8, seed: int = 0, bootstrap: int = 2000,
             out: Path = Path("results/llm-eval"), as_json: Json = False):
    """Task metric on held-out prompts with a bootstrap 95 % CI."""
    _ready()
    from deltatheory._io import ensure_writable, write_json

    from .experiment import bootstrap_ci
    from .generate import generate
    from .tasks import get_task

    try:
        t = get_task(task)
        rows = t.prompts("test", n, seed)
        ensure_writable(out)
        ans = generate(model, rows, out, max_new_tokens=max_new_tokens, batch_size=batch_size,
                       seed=seed)
    except DeltaTheoryError as e:
        _fail(str(e))
    scores = [t.score(r, ans[r["id"]]) for r in rows]
    payload = {"model": model, "task": task, "n": n, "mean": sum(scores) / n,
               "ci95": bootstrap_ci(scores, bootstrap, seed)}
    write_json(out / "eval.json", payload)
    _emit(payload, as_json, f"{model} on {task} (n={n}): {payload['mean']:.3f} "
          f"[{payload['ci95'][0]:.3f}, {payload['ci95'][1]:.3f}]")


@app.command("run")
def run_cmd(config: Annotated[Path, typer.Argument(help="Experiment YAML.")],
            quick: Annotated[bool, typer.Option("--quick", help="Few prompts and steps: the "
                                                "whole pipeline in minutes.")] = False,
            out: Annotated[Path | None, typer.Option(help="Run folder (default "
                                                     "results/<name>).")] = None,
            as_json: Json = False):
    """Generation → pairs → training → evaluation for every arm; resumable."""
    _ready()
    from .experiment import load_config, run

    try:
        cfg = load_config(config, quick=quick)
        folder = out or Path("results") / (cfg["name"] + ("-quick" if quick else ""))
        res = run(cfg, folder, progress=lambda m: typer.echo(m, err=True))
    except DeltaTheoryError as e:
        _fail(str(e))
    _emit(res, as_json, (folder / "results.md").read_text() + f"\nwritten to {folder}")
