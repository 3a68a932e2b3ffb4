"""Evaluation through EleutherAI's lm-evaluation-harness (``lm_eval``, the ``harness`` extra).

:func:`evaluate` runs lm-eval's Python API on a model the project loads itself — a built-in
name, a derived rung (``NAME@prune-S``, ``NAME@truth-N``), a trained arm's model folder, a hub
id — handed to ``lm_eval.models.huggingface.HFLM`` as an already-loaded model with its
tokenizer (``HFLM(pretrained=model, tokenizer=tok)``), then ``lm_eval.simple_evaluate`` with
``log_samples=True``. Offline: the project's own tasks are written as local task definitions
(:mod:`deltatheory.llm.harness_tasks`, documents rendered with the model's own chat template)
and handed to lm-eval as YAML files; other tasks are found by a ``TaskManager`` over the
``--include-path`` folders (``TaskManager(include_path=…)``) and, only when needed, lm-eval's
own task index, whose data comes from the hub.

The pipeline: (1) check every task name, before anything is loaded or written; (2) load the
model and write the project's tasks; (3) ``simple_evaluate``; (4) save lm-eval's results and
samples; (5) summarise.

What a run folder receives (``OUT``):

* ``eval.json`` — per task, every per-item metric's mean with a bootstrap 95 % CI over items,
  the item count and where its samples are; the configuration; the package versions.
* ``lm-eval/results.json`` — lm-eval's own results (``results``, ``configs``, ``n-samples``, …).
* ``lm-eval/samples_TASK.jsonl`` — one line per item in the format of lm-eval's ``--log_samples``
  (``doc_id``, ``doc``, ``target``, ``arguments``, ``resps``, ``filtered_resps``, ``filter``,
  ``metrics``, the hashes, and each metric as a top-level key): what ``deltatheory bridge
  --lm-eval-samples`` reads, from this command or from the ``lm_eval`` command line alike.
* ``lm-eval-tasks/`` — the task definitions and documents used (give it to ``lm_eval
  --include_path`` to rerun them with lm-eval's own command line).

Every file is written atomically.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deltatheory.errors import DeltaTheoryError

__all__ = ["INSTALL", "HarnessConfig", "parse_tasks", "require_lm_eval", "evaluate",
           "sample_line"]

INSTALL = 'pip install -e ".[harness]" (or pip install lm-eval)'
DEFAULT_N = 32  # items of a project task when --n is not given (as `llm eval` without a harness)


def require_lm_eval() -> str:
    """lm-eval's installed version, or a one-line DeltaTheoryError saying how to install it."""
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    try:
        found = find_spec("lm_eval") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise DeltaTheoryError(f"--harness lm-eval needs lm-evaluation-harness, which is not "
                               f"installed: {INSTALL}")
    try:
        return version("lm_eval")
    except PackageNotFoundError:  # pragma: no cover - importable but without metadata
        return "unknown"


def parse_tasks(text: str) -> tuple[str, ...]:
    """``NAME[,NAME…]`` as a tuple of distinct names, in order.

    >>> parse_tasks("addition-choice, arithmetic")
    ('addition-choice', 'arithmetic')
    """
    names = [t.strip() for t in str(text).split(",")]
    if not names or any(not t for t in names):
        raise DeltaTheoryError(f"--tasks {text!r} must be task names separated by commas, e.g. "
                               "addition-choice,arithmetic")
    if len(set(names)) != len(names):
        raise DeltaTheoryError(f"--tasks {text!r} names a task twice")
    return tuple(names)


@dataclass(frozen=True)
class HarnessConfig:
    """How ``llm eval --harness lm-eval`` evaluates: the one source of its defaults.

    ``n``: items written for a project task (default :data:`DEFAULT_N`), lm-eval's ``limit``
    for any other task (default: all of its items). ``batch_size``: lm-eval's batch (sequences
    per forward pass). ``device``: ``auto`` is CUDA when torch sees a GPU, else the CPU.
    """

    tasks: tuple[str, ...]
    n: int | None = None
    split: str = "test"
    seed: int = 0
    dtype: str = "fp32"
    batch_size: int = 32
    max_new_tokens: int = 256
    bootstrap: int = 2000
    device: str = "auto"
    include_path: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        from .models import normalize_dtype

        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "include_path", tuple(str(p) for p in self.include_path))
        object.__setattr__(self, "dtype", normalize_dtype(self.dtype))
        if not self.tasks:
            raise DeltaTheoryError("give at least one lm-eval task (--tasks NAME[,NAME])")
        for name in ("batch_size", "max_new_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise DeltaTheoryError(f"--{name.replace('_', '-')}={v!r} must be a whole "
                                       "number >= 1")
        if self.n is not None and (isinstance(self.n, bool) or not isinstance(self.n, int)
                                   or self.n < 1):
            raise DeltaTheoryError(f"--n={self.n!r} must be at least 1")
        if self.bootstrap < 100:
            raise DeltaTheoryError(f"--bootstrap {self.bootstrap} must be at least 100")
        if self.split not in ("train", "validation", "test"):
            raise DeltaTheoryError(f"split={self.split!r} is not one of train, validation, test")
        if self.device != "auto" and not (self.device == "cpu" or self.device.startswith(
                ("cuda", "mps", "xpu", "npu"))):
            raise DeltaTheoryError(f"--device {self.device!r} is not auto, cpu, cuda[:N], mps, "
                                   "xpu or npu")
        for p in self.include_path:
            if not Path(p).is_dir():
                raise DeltaTheoryError(f"--include-path {p!r} is not a folder")
        from .harness_tasks import template_for
        from .tasks import TASKS

        for t in self.tasks:
            if (t in TASKS or t.startswith("jsonl:")) and template_for(t) is None:
                raise DeltaTheoryError(
                    f"the project's task {t!r} has no lm-eval definition (shipped: the choice "
                    "tasks as multiple choice, arithmetic and arithmetic-multiturn as "
                    "generation); score it with the project's harness (--task)")

    def project_tasks(self) -> tuple[str, ...]:
        """The requested tasks the project writes itself (:mod:`~deltatheory.llm.harness_tasks`)."""
        from .harness_tasks import template_for

        return tuple(t for t in self.tasks if template_for(t) is not None)


def sample_line(sample: dict) -> str:
    """One logged sample as lm-eval's ``--log_samples`` writes it (its EvaluationTracker:
    ``arguments`` as ``{gen_args_i: {arg_j: …}}``, responses and the target as strings)."""
    from lm_eval.utils import handle_non_serializable, sanitize_list

    s = dict(sample)
    s["arguments"] = {f"gen_args_{i}": {f"arg_{j}": a for j, a in enumerate(arg)}
                      for i, arg in enumerate(sample["arguments"])}
    s["resps"] = sanitize_list(sample["resps"])
    s["filtered_resps"] = sanitize_list(sample["filtered_resps"])
    s["target"] = str(sample["target"])
    return json.dumps(s, default=handle_non_serializable, ensure_ascii=False) + "\n"


def _device(name: str) -> str:
    import torch

    if name != "auto":
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def _lm_eval_log_level(level: int):
    """lm-eval's loggers at ``level`` inside the block (HFLM warns about every model passed in
    memory, which is how this module always passes one)."""
    log = logging.getLogger("lm_eval")
    old = log.level
    log.setLevel(level)
    try:
        yield
    finally:
        log.setLevel(old)


def _write_project_tasks(folder: Path, cfg: HarnessConfig, tokenizer, chat: bool) -> dict:
    """Step 2: the project's tasks as local lm-eval task definitions; {task: YAML path}."""
    from .harness_tasks import write_task
    from .tasks import get_task

    written = {}
    for name in cfg.project_tasks():
        rows = get_task(name).prompts(cfg.split, cfg.n or DEFAULT_N, cfg.seed)
        written[name] = write_task(folder, name, rows, tokenizer, chat=chat,
                                   max_new_tokens=cfg.max_new_tokens, cache_dir=folder / ".cache")
    return written


def _task_manager(cfg: HarnessConfig):
    """Step 1, before anything is loaded or written: lm-eval's TaskManager over the
    --include-path folders, and lm-eval's own task index only when a requested task is neither
    the project's nor found there; every requested name is checked."""
    from lm_eval.tasks import TaskManager

    own = set(cfg.project_tasks())
    others = [t for t in cfg.tasks if t not in own
              and not (t.endswith((".yaml", ".yml")) and Path(t).is_file())]
    tm = TaskManager(include_path=list(cfg.include_path) or None, include_defaults=False)
    if any(t not in tm.all_tasks for t in others):
        tm = TaskManager(include_path=list(cfg.include_path) or None, include_defaults=True)
    known = set(tm.all_tasks)
    for t in others:
        if t not in known:
            raise DeltaTheoryError(
                f"lm-eval task {t!r} is not known: not one of the project's tasks with an "
                "lm-eval definition (the choice tasks, arithmetic, arithmetic-multiturn), nor "
                f"among lm-eval's {len(known)} tasks; --include-path adds a folder of task YAMLs")
    return tm


def _run_lm_eval(model, tokenizer, tm, specs: list[str], cfg: HarnessConfig) -> dict:
    """Step 3: ``simple_evaluate`` on the model in memory, every sample logged. ``specs``: task
    names, or the YAML files the project's tasks were written to."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    with _lm_eval_log_level(logging.ERROR):
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=cfg.batch_size,
                  # a chat template writes its own special tokens; a plain transcript gets the
                  # tokenizer's own (its BOS), as the project's scorer tokenises both
                  add_bos_token=False if getattr(tokenizer, "chat_template", None) else None)
    try:
        # a project task holds exactly its n items, so limit=n changes only lm-eval's own tasks
        res = simple_evaluate(model=lm, tasks=specs, task_manager=tm, limit=cfg.n,
                              log_samples=True, bootstrap_iters=cfg.bootstrap,
                              random_seed=cfg.seed, numpy_random_seed=cfg.seed,
                              torch_random_seed=cfg.seed, fewshot_random_seed=cfg.seed)
    except (OSError, ConnectionError) as exc:  # offline, a task whose data is on the hub
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DeltaTheoryError(f"lm-eval could not load a task's data ({first}); offline, only "
                               "tasks with local data files run (the project's own, or "
                               "--include-path)") from None
    return res


def _save(out: Path, res: dict) -> dict:
    """Step 4: lm-eval's results and one samples file per task, atomically; {task: path}."""
    from lm_eval.utils import handle_non_serializable

    from deltatheory._io import atomic_path, write_json

    folder = out / "lm-eval"
    paths = {}
    for task, samples in (res.get("samples") or {}).items():
        path = folder / f"samples_{task}.jsonl"
        with atomic_path(path) as tmp:
            tmp.write_text("".join(sample_line(s) for s in samples))
        paths[task] = path
    plain = {k: v for k, v in res.items() if k != "samples"}
    write_json(folder / "results.json",
               json.loads(json.dumps(plain, default=handle_non_serializable)))
    return paths


def _summary(res: dict, cfg: HarnessConfig) -> dict:
    """Step 5: per task and (metric, filter), the mean over items with a bootstrap 95 % CI."""
    from deltatheory.stats import bootstrap_ci

    out = {}
    for task, samples in (res.get("samples") or {}).items():
        values: dict[str, list[float]] = {}
        for s in samples:
            for m in s.get("metrics", []):
                v = s.get(m)
                if isinstance(v, bool | int | float):
                    values.setdefault(f"{m},{s.get('filter', 'none')}", []).append(float(v))
        metrics = {k: {"mean": sum(v) / len(v), "ci95": bootstrap_ci(v, cfg.bootstrap, cfg.seed)}
                   for k, v in values.items() if v}
        out[task] = {"n": len({s["doc_id"] for s in samples}),
                     "output_type": (res.get("configs", {}).get(task) or {}).get("output_type"),
                     "metrics": metrics}
    return out


def evaluate(model_spec: str, out: str | Path, cfg: HarnessConfig, *, model=None,
             tokenizer=None) -> dict:
    """Evaluate ``model_spec`` on ``cfg.tasks`` with lm-eval; write and return the summary.

    ``model``/``tokenizer``: a model already in memory (e.g. a trained arm), evaluated as it is
    (in its dtype, on its device); otherwise ``model_spec`` is loaded in ``cfg.dtype``. Returns
    the content of ``OUT/eval.json`` (see the module docstring).
    """
    from deltatheory._io import ensure_writable, versions, write_json

    from .generate import uses_chat

    t0 = time.perf_counter()
    lm_eval_version = require_lm_eval()
    tm = _task_manager(cfg)
    out = ensure_writable(out)
    if model is None:
        from .models import load

        model, tokenizer = load(model_spec, dtype=cfg.dtype)
        device = _device(cfg.device)
        if device != "cpu":
            model = model.to(device)
    chat = uses_chat(model_spec, tokenizer)
    task_dir = out / "lm-eval-tasks"
    written = _write_project_tasks(task_dir, cfg, tokenizer, chat)
    specs = [str(written[t]) if t in written else t for t in cfg.tasks]
    t1 = time.perf_counter()
    res = _run_lm_eval(model, tokenizer, tm, specs, cfg)
    lm_eval_seconds = time.perf_counter() - t1
    paths = _save(out, res)
    tasks = _summary(res, cfg)
    for name, info in tasks.items():
        info["samples"] = str(paths[name])
        if name in written:
            info["definition"] = str(written[name])
    payload = {"model": model_spec, "harness": "lm-eval", "lm_eval_version": lm_eval_version,
               "tasks": tasks, "results": str(out / "lm-eval" / "results.json"),
               "config": {**asdict(cfg), "chat_template": chat,
                          "device": str(next(model.parameters()).device),
                          "project_tasks": list(cfg.project_tasks())},
               "versions": {**versions(), "lm_eval": lm_eval_version},
               "lm_eval_seconds": round(lm_eval_seconds, 2),
               "seconds": round(time.perf_counter() - t0, 2)}
    write_json(out / "eval.json", payload)
    return payload
