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


def _quiet_stdout():
    """Send what libraries print (the trainer's log lines) to stderr: stdout is the result."""
    import contextlib

    return contextlib.redirect_stdout(sys.stderr)


def _emit(payload, as_json: bool, text: str) -> None:
    sys.stdout.write(json.dumps(payload, indent=2) + "\n" if as_json else text + "\n")


Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _run_folder(module, config, quick: bool, out, as_json: bool, text) -> None:
    """Load ``module``'s config, run it into its folder (resumable) and print the result."""
    try:
        cfg = module.load_config(config, quick=quick)
        folder = out or Path("results") / (cfg["name"] + ("-quick" if quick else ""))
        with _quiet_stdout():
            res = module.run(cfg, folder, progress=lambda m: typer.echo(m, err=True))
    except DeltaTheoryError as e:
        _fail(str(e))
    _emit(res, as_json, text(res, folder) + f"\nwritten to {folder}")


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


@app.command("pairs")
def pairs_cmd(chosen: Annotated[str | None, typer.Option(help="Model whose answers are chosen "
                                                         "(the paper: the bigger one).")] = None,
              rejected: Annotated[str | None, typer.Option(help="Model whose answers are "
                                                           "rejected.")] = None,
              utility: Annotated[str | None, typer.Option(help="Comma-separated models: the "
                                                          "best answer by the task's utility is "
                                                          "chosen, the worst rejected.")] = None,
              synthetic: Annotated[str | None, typer.Option(help="K_CHOSEN,K_REJECTED: "
                                                            "bold-sections answers with exactly "
                                                            "K sections.")] = None,
              task: str = "bold-sections", n: Annotated[int, typer.Option(
                  help="Number of training prompts.")] = 64,
              control: Annotated[str, typer.Option(help="none, reversed, tied or shuffled.")]
              = "none",
              min_gap: Annotated[float, typer.Option(help="Drop pairs whose utility gap is "
                                                     "smaller.")] = 0.0,
              dolci: Annotated[bool, typer.Option("--dolci", help="Keep only chosen-correct, "
                                                  "rejected-wrong pairs (verifiable tasks).")]
              = False,
              keep_identical: Annotated[bool, typer.Option("--keep-identical", help="Keep pairs "
                                                           "whose answers are identical.")]
              = False,
              max_new_tokens: int = 256, batch_size: int = 8, seed: int = 0,
              out: Annotated[Path, typer.Option(help="Run folder: responses/ and pairs/.")]
              = Path("results/llm-pairs"), as_json: Json = False):
    """Generate answers (resumable) and build preference pairs, saved as a HF dataset with
    diagnostics (pairs/ and pairs.json in --out)."""
    _ready()
    from deltatheory._io import ensure_writable, write_json

    from .studies.experiment import _pairs_for_arm, load_config
    from .pairs import diagnostics, save_pairs
    from .tasks import get_task

    given = [x is not None for x in (chosen or rejected, utility, synthetic)]
    if sum(given) != 1 or (chosen is None) != (rejected is None):
        _fail("give exactly one of --chosen with --rejected, --utility M1,M2,… or "
              "--synthetic K,K")
    if synthetic is not None:
        try:
            kc, kr = (int(x) for x in synthetic.split(","))
        except ValueError:
            _fail(f"--synthetic {synthetic!r} must be two whole numbers, e.g. 3,2")
        spec = {"synthetic": {"chosen": kc, "rejected": kr}}
    elif utility is not None:
        spec = {"utility": [m.strip() for m in utility.split(",") if m.strip()]}
    else:
        spec = {"chosen": chosen, "rejected": rejected}
    try:
        cfg = load_config(overrides={"task": task, "seed": seed, "prompts": {"train": n},
                                     "generation": {"max_new_tokens": max_new_tokens,
                                                    "batch_size": batch_size}})
        t = get_task(task)
        ensure_writable(out)
        arm = {"pairs": spec, "control": control, "min_gap": min_gap, "dolci": dolci,
               "drop_identical": not keep_identical}
        with _quiet_stdout():
            pairs = _pairs_for_arm(arm, cfg, t, t.prompts("train", n, seed), out)
        save_pairs(pairs, out / "pairs")
        diag = diagnostics(pairs)
        write_json(out / "pairs.json", {"task": task, "spec": spec, **arm, "seed": seed,
                                        "diagnostics": diag})
    except DeltaTheoryError as e:
        _fail(str(e))
    _emit({"pairs_dir": str(out / "pairs"), **diag}, as_json,
          f"{diag['pairs']} pairs in {out / 'pairs'}; identical {diag['identical_rate']:.2f}, "
          f"mean length chosen {diag['mean_chosen_length']:.0f} / rejected "
          f"{diag['mean_rejected_length']:.0f} characters"
          + (f", mean utility gap {diag['mean_utility_gap']:.2f}"
             if "mean_utility_gap" in diag else ""))


@app.command("train")
def train_cmd(pairs: Annotated[Path, typer.Option(help="Pairs dataset folder (from `llm "
                                                  "pairs` or a run's arms/<arm>/pairs).")],
              model: Annotated[str, typer.Option(help="Student model spec.")]
              = "smollm2-135m-instruct",
              method: Annotated[str, typer.Option(help="dpo, dpo-norm, ipo, simpo, dadpo, "
                                                  "weighted or sft.")] = "dpo",
              learning_rate: float = 5e-5, epochs: float = 1.0,
              max_steps: Annotated[int, typer.Option(help="Stop after this many steps "
                                                     "(-1: epochs decide).")] = -1,
              batch_size: int = 4, grad_accum: int = 1,
              beta: Annotated[float | None, typer.Option(help="β (default: the method's).")]
              = None,
              full: Annotated[bool, typer.Option("--full", help="Full fine-tuning instead of "
                                                 "LoRA.")] = False,
              dtype: Annotated[str, typer.Option(help="bf16 or fp32.")] = "bf16",
              teacher: Annotated[str | None, typer.Option(help="daDPO teacher model.")] = None,
              max_length: int = 512, seed: int = 0,
              out: Annotated[Path, typer.Option(help="Output folder: model/ and "
                                                "train_log.json.")] = Path("results/llm-train"),
              as_json: Json = False):
    """Train a model on saved pairs with one of the presets; saves the merged model."""
    _ready()
    from deltatheory._io import ensure_writable

    from .studies.experiment import _reward_stats
    from .pairs import load_pairs
    from .train import TrainConfig, train

    if not (pairs / "dataset_info.json").exists():
        _fail(f"--pairs {str(pairs)!r} is not a saved pairs dataset (no dataset_info.json)")
    try:
        cfg = TrainConfig(method=method, learning_rate=learning_rate, epochs=epochs,
                          max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum,
                          beta=beta, lora=not full, dtype=dtype, teacher=teacher,
                          max_length=max_length, seed=seed)
        ensure_writable(out)
        ds = load_pairs(pairs)
        with _quiet_stdout():
            _, _, log = train(model, ds, out, cfg)
    except DeltaTheoryError as e:
        _fail(str(e))
    stats = {"model_dir": str(out / "model"), "method": method, "beta": cfg.resolved_beta,
             "pairs": len(ds), **_reward_stats(log)}
    _emit(stats, as_json, f"trained {model} with {method} on {len(ds)} pairs → {out / 'model'}"
          + (f"; reward accuracy {stats['reward_accuracy']:.2f}, margin "
             f"{stats['reward_margin']:.2f}" if "reward_accuracy" in stats else ""))


@app.command("eval")
def eval_cmd(model: Annotated[str, typer.Option(help="Model spec.")],
             task: str = "bold-sections", n: int = 32, max_new_tokens: int = 256,
             batch_size: int = 8, seed: int = 0, bootstrap: int = 2000,
             out: Path = Path("results/llm-eval"), as_json: Json = False):
    """Task metric on held-out prompts with a bootstrap 95 % CI."""
    _ready()
    from deltatheory._io import ensure_writable, write_json

    from .studies.experiment import bootstrap_ci
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
    from .studies import experiment

    _run_folder(experiment, config, quick, out, as_json,
                lambda res, folder: (folder / "results.md").read_text())


@app.command("ladder")
def ladder_cmd(config: Annotated[Path | None, typer.Argument(
                   help="Ladder YAML (default: the built-in ladder).")] = None,
               quick: Annotated[bool, typer.Option("--quick", help="Few items and steps: the "
                                                   "whole ladder in minutes.")] = False,
               out: Annotated[Path | None, typer.Option(help="Run folder (default "
                                                        "results/<name>).")] = None,
               as_json: Json = False):
    """Predicted vs observed: the bridge's κ for each pair of teacher rungs against the
    student's accuracy change after DPO on their disagreements, with reversed controls."""
    _ready()
    from .studies import ladder

    _run_folder(ladder, config, quick, out, as_json, lambda res, folder: ladder.markdown(res))
