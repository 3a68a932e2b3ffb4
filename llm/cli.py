"""``deltatheory llm``: the real-model companion's commands (needs the ``llm`` extra).

Registered into the core command line through the ``deltatheory.commands`` entry point
(:func:`register`). Option defaults are read from the typed configs
(:class:`~deltatheory.llm.train.TrainConfig`, :class:`~deltatheory.llm.generate.GenerationConfig`),
the one source of defaults. Every argument is checked before any file is touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from deltatheory._cli import Json, emit, fail
from deltatheory.errors import DeltaTheoryError

from .choice import choice_answers
from .generate import GenerationConfig
from .harness import HarnessConfig
from .train import METHODS, TrainConfig

app = typer.Typer(no_args_is_help=True, help="Delta-learning DPO on real language models: "
                  "models, generate, pairs, train, eval, run, ladder, separation. Needs the llm "
                  "extra.")

_T = TrainConfig()
_G = GenerationConfig()
_H = {f.name: f.default for f in dataclasses.fields(HarnessConfig)}  # lm-eval's defaults
_CHOICE_BATCH = choice_answers.__kwdefaults__["batch_size"]  # what the studies score with


def register(root: typer.Typer) -> None:
    """Add ``llm`` to the core command line."""
    root.add_typer(app, name="llm")


def _ready() -> None:
    from . import require_extra

    try:
        require_extra()
    except DeltaTheoryError as e:
        fail(str(e))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _quiet_stdout():
    """Send what libraries print (the trainer's log lines) to stderr: stdout is the result."""
    return contextlib.redirect_stdout(sys.stderr)


def _say(payload, as_json: bool, text: str) -> None:
    emit(payload, as_json, lambda _: sys.stdout.write(text + "\n"))


def _gen(max_new_tokens: int, batch_size: int, temperature: float = 0.0,
         dtype: str = _G.dtype) -> GenerationConfig:
    return GenerationConfig(max_new_tokens=max_new_tokens, batch_size=batch_size,
                            temperature=temperature, dtype=dtype)


def _count(name: str, n: int) -> None:
    if n < 1:
        raise DeltaTheoryError(f"{name}={n} must be at least 1")


@app.command("models", help="List the built-in models and the recipes for weaker rungs.")
def models_cmd(as_json: Json = False):
    from .models import list_models

    rows = list_models()
    _say(rows, as_json, "\n".join(
        f"{r['name']:28s} {'ok ' if r['available'] else 'missing'}  {r['about']}"
        + ("" if r["available"] else f"  ({r['install']})") for r in rows))


Model = Annotated[str, typer.Option(help="Model: a built-in name, NAME@prune-S, a hub id or a "
                                    "local folder.")]
Task = Annotated[str, typer.Option(help="bold-sections, arithmetic, arithmetic-choice or "
                                   "jsonl:PATH.")]


@app.command("generate", help="Answer a task's prompts (resumable) and print the mean task "
             "score.")
def generate_cmd(model: Model, task: Task = "bold-sections",
                 split: Annotated[str, typer.Option(help="train or test.")] = "test",
                 n: Annotated[int, typer.Option(help="Number of prompts.")] = 8,
                 max_new_tokens: int = _G.max_new_tokens, batch_size: int = _G.batch_size,
                 temperature: float = _G.temperature, seed: int = 0,
                 out: Annotated[Path, typer.Option(help="Run folder.")] = Path("results/llm"),
                 as_json: Json = False):
    _ready()
    from deltatheory._io import ensure_writable

    from .generate import generate
    from .models import parse_spec
    from .tasks import get_task

    try:
        parse_spec(model)
        gen = _gen(max_new_tokens, batch_size, temperature)
        _count("--n", n)
        t = get_task(task)
        rows = t.prompts(split, n, seed)
        ensure_writable(out)
        ans = generate(model, rows, out, gen, seed=seed)
        scores = [t.score(r, ans[r["id"]]) for r in rows]
    except DeltaTheoryError as e:
        fail(str(e))
    payload = {"model": model, "task": task, "split": split, "n": n,
               "mean_score": sum(scores) / len(scores)}
    _say(payload, as_json, f"{model} on {task}/{split} (n={n}): mean score "
         f"{payload['mean_score']:.3f}; responses in {out}/responses/")


@app.command("pairs", help="Generate answers (resumable) and build preference pairs, saved as a "
             "Hugging Face dataset with diagnostics (pairs/ and pairs.json in --out).")
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
              task: Task = "bold-sections",
              n: Annotated[int, typer.Option(help="Number of training prompts.")] = 64,
              control: Annotated[str, typer.Option(help="none, reversed, tied or shuffled.")]
              = "none",
              min_gap: Annotated[float | None, typer.Option(
                  help="Drop pairs whose utility gap is smaller (default: keep every pair, "
                       "even one whose chosen answer scores lower).")] = None,
              dolci: Annotated[bool, typer.Option("--dolci", help="Keep only chosen-correct, "
                                                  "rejected-wrong pairs (verifiable tasks).")]
              = False,
              keep_identical: Annotated[bool, typer.Option("--keep-identical", help="Keep pairs "
                                                           "whose answers are identical.")]
              = False,
              max_new_tokens: int = _G.max_new_tokens, batch_size: int = _G.batch_size,
              seed: int = 0,
              out: Annotated[Path, typer.Option(help="Run folder: responses/ and pairs/.")]
              = Path("results/llm-pairs"), as_json: Json = False):
    _ready()
    from deltatheory._io import ensure_writable, write_json

    from .pairs import CONTROLS, diagnostics, save_pairs
    from .studies.experiment import Arm, load_config, pairs_for
    from .tasks import get_task

    given = [x is not None for x in (chosen or rejected, utility, synthetic)]
    if sum(given) != 1 or (chosen is None) != (rejected is None):
        fail("give exactly one of --chosen with --rejected, --utility M1,M2,… or "
             "--synthetic K,K")
    if control not in CONTROLS:
        fail(f"--control {control!r} is not one of {', '.join(CONTROLS)}")
    if synthetic is not None:
        try:
            kc, kr = (int(x) for x in synthetic.split(","))
        except ValueError:
            fail(f"--synthetic {synthetic!r} must be two whole numbers, e.g. 3,2")
        if kc < 0 or kr < 0:
            fail(f"--synthetic {synthetic!r}: section counts must be >= 0")
        spec = {"synthetic": {"chosen": kc, "rejected": kr}}
    elif utility is not None:
        spec = {"utility": [m.strip() for m in utility.split(",") if m.strip()]}
        if len(spec["utility"]) < 2:
            fail(f"--utility {utility!r} must name at least two models")
    else:
        spec = {"chosen": chosen, "rejected": rejected}
    try:
        _count("--n", n)
        cfg = load_config(overrides={"task": task, "seed": seed, "prompts": {"train": n},
                                     "generation": {"max_new_tokens": max_new_tokens,
                                                    "batch_size": batch_size}})
        t = get_task(task)
        ensure_writable(out)
        arm = Arm(name="pairs", pairs=spec, control=control, min_gap=min_gap, dolci=dolci,
                  drop_identical=not keep_identical)
        with _quiet_stdout():
            pairs = pairs_for(arm, cfg, t, t.prompts("train", n, seed), out)
        save_pairs(pairs, out / "pairs")
        diag = diagnostics(pairs)
        write_json(out / "pairs.json", {"task": task, "spec": spec, "control": control,
                                        "min_gap": min_gap, "dolci": dolci,
                                        "drop_identical": not keep_identical, "seed": seed,
                                        "diagnostics": diag})
    except DeltaTheoryError as e:
        fail(str(e))
    _say({"pairs_dir": str(out / "pairs"), **diag}, as_json,
         f"{diag['pairs']} pairs in {out / 'pairs'}; identical {diag['identical_rate']:.2f}, "
         f"mean length chosen {diag['mean_chosen_length']:.0f} / rejected "
         f"{diag['mean_rejected_length']:.0f} characters"
         + (f", mean utility gap {diag['mean_utility_gap']:.2f}"
            if "mean_utility_gap" in diag else ""))


@app.command("train", help="Train a model on saved pairs with one of the presets; saves the "
             "merged model and train_log.json.")
def train_cmd(pairs: Annotated[Path, typer.Option(help="Pairs dataset folder (from llm pairs "
                                                  "or a run's arms/ARM/pairs).")],
              model: Annotated[str, typer.Option(help="Student model.")]
              = "smollm2-135m-instruct",
              method: Annotated[str, typer.Option(help=", ".join(METHODS) + ".")] = _T.method,
              learning_rate: float = _T.learning_rate, epochs: float = _T.epochs,
              max_steps: Annotated[int, typer.Option(help="Stop after this many steps "
                                                     "(-1: the epochs decide).")] = _T.max_steps,
              batch_size: int = _T.batch_size, grad_accum: int = _T.grad_accum,
              beta: Annotated[float | None, typer.Option(help="Beta (default: the method's).")]
              = _T.beta,
              full: Annotated[bool, typer.Option("--full", help="Full fine-tuning instead of "
                                                 "LoRA.")] = not _T.lora,
              dtype: Annotated[str, typer.Option(help="bf16 or fp32.")] = _T.dtype,
              teacher: Annotated[str | None, typer.Option(help="daDPO teacher model.")]
              = _T.teacher,
              beta2: Annotated[float, typer.Option(help="daDPO weight of the teacher term.")]
              = _T.beta2,
              max_length: int = _T.max_length, seed: int = _T.seed,
              out: Annotated[Path, typer.Option(help="Output folder: model/ and "
                                                "train_log.json.")] = Path("results/llm-train"),
              as_json: Json = False):
    _ready()
    try:  # the arguments first, before any file is looked at or written
        cfg = TrainConfig(method=method, learning_rate=learning_rate, epochs=epochs,
                          max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum,
                          beta=beta, lora=not full, dtype=dtype, teacher=teacher, beta2=beta2,
                          max_length=max_length, seed=seed)
    except DeltaTheoryError as e:
        fail(str(e))
    from deltatheory._io import ensure_writable

    from .models import parse_spec
    from .pairs import load_pairs
    from .train import reward_stats, train

    if not (pairs / "dataset_info.json").exists():
        fail(f"--pairs {str(pairs)!r} is not a saved pairs dataset (no dataset_info.json)")
    try:
        parse_spec(model)
        ds = load_pairs(pairs)
        ensure_writable(out)
        with _quiet_stdout():
            _, _, log = train(model, ds, out, cfg)
    except DeltaTheoryError as e:
        fail(str(e))
    stats = {"model_dir": str(out / "model"), "method": method, "beta": cfg.resolved_beta,
             "pairs": len(ds), **reward_stats(log)}
    _say(stats, as_json, f"trained {model} with {method} on {len(ds)} pairs -> {out / 'model'}"
         + (f"; reward accuracy {stats['reward_accuracy']:.2f}, margin "
            f"{stats['reward_margin']:.2f}" if "reward_accuracy" in stats else ""))


@app.command("eval", help="Task metric on held-out prompts with a bootstrap 95 % CI. A choice "
             "task (arithmetic-choice, addition-choice) is scored as every study scores it: "
             "the model's answer is the candidate it gives the higher log-probability, and "
             "nothing is generated.\n\nWith --harness lm-eval the model is evaluated through "
             "EleutherAI's lm-evaluation-harness instead (the harness extra), on --tasks: the "
             "project's own tasks (addition-choice as multiple choice, arithmetic as "
             "generation, written as local lm-eval tasks: offline) or lm-eval's. OUT receives "
             "eval.json, lm-eval/results.json and lm-eval/samples_TASK.jsonl (lm-eval's "
             "--log_samples format, which deltatheory bridge --lm-eval-samples reads).")
def eval_cmd(model: Model, task: Annotated[str | None, typer.Option(
                 help="bold-sections (default), arithmetic, arithmetic-choice, addition-choice "
                      "or jsonl:PATH (the project's harness).")] = None,
             n: Annotated[int | None, typer.Option(
                 help="Held-out items (default 32). With --harness lm-eval: the items written "
                      "for a project task (default 32), lm-eval's limit for its own tasks "
                      "(default all).")] = None,
             max_new_tokens: Annotated[int | None, typer.Option(
                 help=f"Generation only (default {_G.max_new_tokens}); refused for a choice "
                      "task, which generates nothing. With --harness lm-eval it caps the "
                      "project's generation tasks (arithmetic, arithmetic-multiturn); lm-eval's "
                      "own and --include-path tasks keep their YAML's max_gen_toks, and "
                      "log-likelihood tasks (addition-choice) generate nothing.")] = None,
             batch_size: Annotated[int | None, typer.Option(
                 help=f"Prompts per batch (default {_G.batch_size} when generating, "
                      f"{_CHOICE_BATCH} when scoring a choice task, as the studies do; "
                      f"{_H['batch_size']} sequences for lm-eval).")] = None,
             dtype: Annotated[str, typer.Option(help="fp32 or bf16: the dtype the model is "
                                                "loaded and run in.")] = _G.dtype,
             harness: Annotated[str, typer.Option(
                 help="project (the project's scorer) or lm-eval.")] = "project",
             tasks: Annotated[str | None, typer.Option(
                 help="With --harness lm-eval: NAME[,NAME], project tasks (addition-choice, "
                      "arithmetic, the other choice tasks, arithmetic-multiturn) or lm-eval "
                      "tasks.")] = None,
             include_path: Annotated[list[Path] | None, typer.Option(
                 metavar="DIR",
                 help="With --harness lm-eval: a folder of lm-eval task YAMLs (repeatable).")]
             = None,
             device: Annotated[str, typer.Option(
                 help="With --harness lm-eval: auto (CUDA if torch sees a GPU), cpu, cuda[:N]."
                 )] = _H["device"],
             seed: int = 0, bootstrap: int = 2000,
             out: Path = Path("results/llm-eval"), as_json: Json = False):
    _ready()
    if harness not in ("project", "lm-eval"):
        fail(f"--harness {harness!r} is not one of project, lm-eval")
    if harness == "lm-eval":
        return _eval_lm_eval(model, task, n, max_new_tokens, batch_size, dtype, tasks,
                             include_path, device, seed, bootstrap, out, as_json)
    for given, name in ((tasks, "--tasks"), (include_path, "--include-path"),
                        (device != _H["device"] or None, "--device")):
        if given:
            fail(f"{name} is for --harness lm-eval; the project's harness takes --task")
    from deltatheory._io import ensure_writable, write_json
    from deltatheory.stats import bootstrap_ci

    from .models import parse_spec
    from .tasks import get_task

    task = task or "bold-sections"
    n = 32 if n is None else n
    try:
        parse_spec(model)
        _count("--n", n)
        if bootstrap < 100:
            raise DeltaTheoryError(f"--bootstrap {bootstrap} must be at least 100")
        t = get_task(task)
        if t.choice:
            if max_new_tokens is not None:
                raise DeltaTheoryError(f"--max-new-tokens {max_new_tokens} does not apply to "
                                       f"{task}: a choice task is scored by log-probability "
                                       "and generates nothing")
            batch = _CHOICE_BATCH if batch_size is None else batch_size
            _count("--batch-size", batch)
            from .models import normalize_dtype

            dtype = normalize_dtype(dtype)
        else:
            gen = _gen(_G.max_new_tokens if max_new_tokens is None else max_new_tokens,
                       _G.batch_size if batch_size is None else batch_size, dtype=dtype)
        rows = t.prompts("test", n, seed)
        ensure_writable(out)
        if t.choice:  # the studies' path (studies/experiment.py), so the numbers agree
            scoring = "log-prob choice"
            ans = choice_answers(model, rows, out, dtype=dtype, batch_size=batch)
        else:
            from .generate import generate

            scoring = "generation"
            ans = generate(model, rows, out, gen, seed=seed)
        scores = [t.score(r, ans[r["id"]]) for r in rows]
        payload = {"model": model, "task": task, "n": n, "scoring": scoring,
                   "mean": sum(scores) / n, "ci95": bootstrap_ci(scores, bootstrap, seed)}
        write_json(out / "eval.json", payload)
    except DeltaTheoryError as e:
        fail(str(e))
    ci = payload["ci95"]
    _say(payload, as_json, f"{model} on {task} (n={n}, {scoring}): {payload['mean']:.3f}"
         + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""))


def _eval_lm_eval(model, task, n, max_new_tokens, batch_size, dtype, tasks, include_path,
                  device, seed, bootstrap, out, as_json):
    """``llm eval --harness lm-eval``: every argument checked before anything is loaded or
    written, then :func:`deltatheory.llm.harness.evaluate`."""
    from .harness import HarnessConfig, evaluate, parse_tasks, require_lm_eval
    from .models import parse_spec

    try:
        if task is not None:
            raise DeltaTheoryError(f"--task {task!r} is the project harness's; with --harness "
                                   "lm-eval name the tasks with --tasks NAME[,NAME]")
        if tasks is None:
            raise DeltaTheoryError("--harness lm-eval needs --tasks NAME[,NAME] (e.g. "
                                   "addition-choice,arithmetic)")
        parse_spec(model)
        cfg = HarnessConfig(tasks=parse_tasks(tasks), n=n, seed=seed, dtype=dtype,
                            batch_size=_H["batch_size"] if batch_size is None else batch_size,
                            max_new_tokens=(_G.max_new_tokens if max_new_tokens is None
                                            else max_new_tokens),
                            bootstrap=bootstrap, device=device,
                            include_path=tuple(include_path or ()))
        require_lm_eval()
        with _quiet_stdout():
            payload = evaluate(model, out, cfg)
    except DeltaTheoryError as e:
        fail(str(e))
    lines = []
    for name, info in payload["tasks"].items():
        parts = []
        for key, m in info["metrics"].items():
            metric, _, filt = key.partition(",")
            ci = m["ci95"]
            parts.append(f"{metric}{'' if filt in ('', 'none') else f' ({filt})'} "
                         f"{m['mean']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""))
        lines.append(f"{model} on {name} (n={info['n']}, lm-eval {info['output_type']}): "
                     + "; ".join(parts) + f"\n  samples: {info['samples']}")
    _say(payload, as_json, "\n".join(lines) + f"\nlm-eval {payload['lm_eval_version']}, "
         f"{payload['lm_eval_seconds']:.0f} s; written to {out}/eval.json")


def _run_study(module, config, quick: bool, out, text, **kw):
    """Load ``module``'s config, run it into its folder (resumable) and return the result;
    ``kw`` goes to ``module.run``."""
    try:
        cfg = module.load_config(config, quick=quick)
        folder = out or Path("results") / (cfg.name + ("-quick" if quick else ""))
        with _quiet_stdout():
            res = module.run(cfg, folder, progress=lambda m: typer.echo(m, err=True), **kw)
    except DeltaTheoryError as e:
        fail(str(e))
    return res, folder


Quick = Annotated[bool, typer.Option("--quick", help="Few prompts and steps: the whole "
                                     "pipeline in minutes.")]
Out = Annotated[Path | None, typer.Option(help="Run folder (default results/NAME).")]


@app.command("run", help="Generation, pairs, training and evaluation for every arm of an "
             "experiment config; resumable per arm.")
def run_cmd(config: Annotated[Path, typer.Argument(help="Experiment YAML.")],
            quick: Quick = False, out: Out = None, as_json: Json = False):
    _ready()
    from .studies import experiment

    res, folder = _run_study(experiment, config, quick, out, None)
    _say(res, as_json, (folder / "results.md").read_text() + f"\nwritten to {folder}")


@app.command("ladder", help="Predicted against observed: for each pair of teachers (weaker "
             "rungs, the student, stronger rungs) the bridge's kappa and simple predictors "
             "against the student's accuracy change after DPO (several seeds) on their "
             "disagreements, beside SFT, reversed, coin-flip and SFT-on-rejected controls "
             "at the same step budget; resumable per arm.")
def ladder_cmd(config: Annotated[Path | None, typer.Argument(
                   help="Ladder YAML (default: the shipped study, packaged as "
                        "deltatheory/llm/studies/ladder.yaml, experiments/ladder.yaml in the "
                        "repository: 9 teachers, 10 pairs, about two hours on a 2-core "
                        "CPU).")] = None,
               quick: Quick = False, out: Out = None, as_json: Json = False):
    _ready()
    from .studies import ladder

    res, folder = _run_study(ladder, config or ladder.STUDY, quick, out, None)
    _say(res, as_json, ladder.markdown(res) + f"\nwritten to {folder}")


@app.command("separation", help="The pre-registered separation study: teachers from two "
             "families and constructed ones, pairs picked (before any training) where kappa "
             "and the accuracy gap disagree; writes the pre-registration and stops, then, run "
             "again, trains DPO (several seeds), SFT on all chosen answers, SFT on the chosen "
             "side and reversed controls, and answers whether kappa predicts the gain beyond "
             "the gap; resumable per arm.")
def separation_cmd(config: Annotated[Path | None, typer.Argument(
                       help="Study YAML (default: the shipped study, packaged as "
                            "deltatheory/llm/studies/separation.yaml, experiments/"
                            "separation.yaml in the repository: about seven hours on a 2-core "
                            "CPU, across sessions).")] = None,
                   quick: Quick = False, out: Out = None,
                   report: Annotated[bool, typer.Option(
                       "--report", help="Train nothing: summarise the arms finished so far "
                       "(a partial study says how many of how many).")] = False,
                   seeds: Annotated[int | None, typer.Option(
                       "--seeds", metavar="N", help="Plan and report only the first N (at "
                       "least 2) of the registered setting's DPO seeds: the protocol's stop "
                       "decided by time alone; the pre-registration stays as it is.")] = None,
                   as_json: Json = False):
    _ready()
    from .studies import separation

    res, folder = _run_study(separation, config or separation.STUDY, quick, out, None,
                             report_only=report, max_seeds=seeds)
    if "preregistered" in res:
        text = (f"pre-registration written to {res['preregistered']} ({len(res['pairs'])} "
                "pairs): commit it, then run the same command again to train")
    else:
        text = separation.markdown(res) + f"\nwritten to {folder}"
    _say(res, as_json, text)
