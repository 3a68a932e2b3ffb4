"""Two-candidate choice by log-probability: a real model's binary label on an item.

For a row with a chat ``prompt`` and two ``candidates`` (assistant answers), the model's label
is 1 when it gives the first candidate the higher sequence log-probability. The completion is
tokenised exactly as the chat template writes an assistant turn, the form DPO trains on, so
what DPO raises (the chosen answer's log-probability relative to the rejected one's) is what
this measures. Log-probabilities come from :func:`deltatheory.llm.logprobs.sequence_logps`.
"""

from __future__ import annotations

import numpy as np

from deltatheory.errors import DeltaTheoryError

from .logprobs import completion_logps

__all__ = ["choice_margins", "choose", "choice_answers"]


def choice_margins(model, tokenizer, rows: list[dict], *, batch_size: int = 32,
                   progress: bool = True, desc: str = "scoring") -> np.ndarray:
    """log p(candidate 1) − log p(candidate 2) for every row (sequence log-probs).

    ``model`` is run in eval mode without gradients, in the dtype it has.
    """
    if batch_size < 1:
        raise DeltaTheoryError(f"batch_size={batch_size} must be at least 1")
    for r in rows:
        if len(r.get("candidates", ())) != 2:
            raise DeltaTheoryError(f"row {r.get('id')!r} needs exactly two 'candidates'; "
                                   "choice scoring is for binary tasks such as "
                                   "arithmetic-choice")
    items = [(r["prompt"], c) for r in rows for c in r["candidates"]]
    out = completion_logps(model, tokenizer, items, batch_size=2 * max(1, batch_size // 2),
                           progress=progress, desc=desc)
    return out[0::2] - out[1::2]


def choose(model, tokenizer, rows: list[dict], **kw) -> np.ndarray:
    """Binary labels (1 = the first candidate) from :func:`choice_margins`."""
    return (choice_margins(model, tokenizer, rows, **kw) > 0).astype(np.int8)


def choice_answers(model_spec: str, rows: list[dict], folder, *, model=None, tokenizer=None,
                   dtype: str = "fp32", batch_size: int = 32, progress: bool = True) -> dict:
    """{id: the candidate ``model_spec`` prefers} for every row: a choice task's "answers".

    Scored in ``dtype`` (``bf16`` is about 4x faster on a CPU with bf16 support; a model passed
    in memory is converted in place). Cached in ``folder/responses/`` under a key of the model's
    identity (the content hash of its folder, or the fingerprint of a model passed in memory),
    the dtype and batch size, and the rows' prompts and candidates, so a rerun reuses exactly
    what it would compute.
    """
    import hashlib
    import json
    from pathlib import Path

    from deltatheory._io import write_json

    from .generate import model_identity
    from .models import load, normalize_dtype

    dtype = normalize_dtype(dtype)
    identity = model_identity(model_spec, model)
    key = hashlib.sha256(json.dumps({"model": identity, "dtype": dtype, "batch": batch_size,
                                     "rows": [[r["id"], r["prompt"],
                                                                 r["candidates"]] for r in rows]},
                                    sort_keys=True).encode()).hexdigest()[:12]
    path = Path(folder) / "responses" / (model_spec.replace("/", "__") + f".choice.{key}.json")
    if path.exists():
        return json.loads(path.read_text())
    if model is None:
        model, tokenizer = load(model_spec, dtype=dtype)
    else:
        import torch

        model = model.to(torch.bfloat16 if dtype == "bf16" else torch.float32)
    labels = choose(model, tokenizer, rows, batch_size=batch_size, progress=progress,
                    desc=f"choose {model_spec}")
    out = {r["id"]: r["candidates"][0 if lab == 1 else 1] for r, lab in zip(rows, labels,
                                                                           strict=True)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, out)
    return out
