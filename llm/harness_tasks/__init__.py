"""lm-evaluation-harness task definitions for the project's own tasks, and their data writer.

Two task definitions ship beside this file: ``addition-choice.yaml`` (multiple choice: the
candidate with the higher log-likelihood is the model's answer) and ``arithmetic.yaml``
(generation: the last integer of a greedy answer). :func:`write_task` writes one of them into a
folder with its documents, local JSON lines made from the project's own rows
(:func:`deltatheory.llm.tasks.get_task`), so lm-eval reads nothing from a hub.

Each document keeps the item as the project has it (``id``, ``prompt``, the ``question``, the
``candidates`` or the ``answer``) and adds the model's own rendering of it, in fields named
``rendered_*``: the chat-templated prompt (``rendered_context``) and, for a choice task, each
candidate as the template writes an assistant turn (``rendered_choices``). That is the form the
project's scorer reads (:func:`deltatheory.llm.logprobs.encode_completion`), so lm-eval's
log-likelihoods and the project's agree to float tolerance (tests/test_harness.py). A tokenizer
without a chat template gets the plain transcript (``Question: …`` / ``Answer:``) and each
candidate after one space, as the project scores a base model. The rendering depends on the
tokenizer, so documents are written per model; :func:`deltatheory.bridge.read_lm_eval_samples`
compares items across models without the ``rendered_*`` fields.

Every project task whose items the two templates fit can be written: the choice tasks
(``addition-choice``, ``addition-choice-v2``, ``arithmetic-choice``, …) with
``addition-choice.yaml``, ``arithmetic`` and ``arithmetic-multiturn`` with ``arithmetic.yaml``.
"""

from __future__ import annotations

import json
from pathlib import Path

from deltatheory.errors import DeltaTheoryError

__all__ = ["TEMPLATES", "FOLDER", "LOADER", "template_for", "documents", "write_task"]

FOLDER = Path(__file__).parent
#: the shipped task definitions, by lm-eval task name
TEMPLATES = {"addition-choice": FOLDER / "addition-choice.yaml",
             "arithmetic": FOLDER / "arithmetic.yaml"}
#: copied beside every written task: reads its data relative to the task folder
LOADER = FOLDER / "deltatheory_data.py"
_GENERATION = ("arithmetic", "arithmetic-multiturn")


def template_for(name: str) -> Path | None:
    """The shipped definition a project task is written with, or None when the task has none
    (an lm-eval task of its own, or a project task lm-eval cannot score as the project does).

    >>> template_for("addition-choice-v2").name, template_for("arithmetic-multiturn").name
    ('addition-choice.yaml', 'arithmetic.yaml')
    >>> template_for("bold-sections") is None, template_for("gsm8k") is None
    (True, True)
    """
    from ..tasks import TASKS, get_task

    if name in _GENERATION:
        return TEMPLATES["arithmetic"]
    if name in TASKS and get_task(name).choice:
        return TEMPLATES["addition-choice"]
    return None


def documents(task_name: str, rows: list[dict], tokenizer, *, chat: bool) -> list[dict]:
    """One lm-eval document per project row (see the module docstring).

    ``chat``: render through the tokenizer's chat template (a tokenizer without one gets the
    plain transcript whatever ``chat`` says, as the project's scorer does for choice tasks).
    """
    from ..generate import render_prompt

    choice = template_for(task_name) == TEMPLATES["addition-choice"]
    out = []
    for r in rows:
        doc = {"id": r["id"], "prompt": r["prompt"], "question": r["prompt"][-1]["content"],
               "answer": str(r["answer"])}
        if choice:
            templated = bool(getattr(tokenizer, "chat_template", None))
            context = render_prompt(tokenizer, r["prompt"], chat=templated)
            choices = []
            for c in r["candidates"]:
                if templated:  # exactly the tail encode_completion tokenises
                    full = tokenizer.apply_chat_template(
                        r["prompt"] + [{"role": "assistant", "content": c}], tokenize=False)
                    if not full.startswith(context):
                        raise DeltaTheoryError(
                            "the chat template does not extend the prompt with the answer; "
                            "scoring a completion needs a template that appends assistant turns")
                    choices.append(full[len(context):])
                else:
                    choices.append(" " + c)
            doc.update(candidates=r["candidates"], label=1 - int(r["truth"]),
                       rendered_context=context, rendered_choices=choices)
        else:
            doc.update(rendered_context=render_prompt(tokenizer, r["prompt"], chat=chat))
        out.append(doc)
    return out


def write_task(folder: str | Path, task_name: str, rows: list[dict], tokenizer, *, chat: bool,
               max_new_tokens: int = 256, cache_dir: str | Path | None = None) -> Path:
    """Write ``TASK.yaml`` and ``TASK.jsonl`` into ``folder``; returns the YAML's path.

    The YAML is the shipped definition with the task's name, its data file named relative to
    the folder (read by ``deltatheory_data.py``, copied beside it: the folder can be moved),
    ``cache_dir`` for the datasets library's cache when given (relative too when it is inside
    the folder), and, for generation,
    ``max_gen_toks`` and the stop string of a plain transcript. Every file is written
    atomically. ``folder`` can be given to ``lm_eval --include_path`` as it is.
    """
    import yaml

    from deltatheory._io import atomic_path

    template = template_for(task_name)
    if template is None:
        raise DeltaTheoryError(f"task {task_name!r} has no lm-eval definition here (shipped: "
                               "the choice tasks and arithmetic, arithmetic-multiturn)")
    folder = Path(folder).resolve()
    data = folder / f"{task_name}.jsonl"
    cfg = yaml.safe_load(template.read_text())
    cfg["task"] = task_name
    cfg["dataset_kwargs"]["data_files"] = {"test": data.name}
    if cache_dir is not None:  # inside the folder: relative to it, as the data
        cache = Path(cache_dir).resolve()
        cfg["dataset_kwargs"]["cache_dir"] = (cache.relative_to(folder).as_posix()
                                              if cache.is_relative_to(folder) else str(cache))
    if cfg["output_type"] == "generate_until":
        cfg["generation_kwargs"]["max_gen_toks"] = int(max_new_tokens)
        if not chat:  # a base model's answer ends at the line break, as the project cuts it
            cfg["generation_kwargs"]["until"] = ["\n"]
    docs = documents(task_name, rows, tokenizer, chat=chat)
    with atomic_path(data) as tmp:
        tmp.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    loader = folder / LOADER.name
    with atomic_path(loader) as tmp:
        tmp.write_bytes(LOADER.read_bytes())
    path = folder / f"{task_name}.yaml"
    with atomic_path(path) as tmp:
        tmp.write_text(f"# written by deltatheory.llm.harness_tasks.write_task from "
                       f"{template.name}\n" + yaml.safe_dump(cfg, sort_keys=False)
                       + f"custom_dataset: !function {LOADER.stem}.load\n")
    return path
