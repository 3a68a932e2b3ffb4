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

from .logprobs import encode_completion, pad_batch, sequence_logps

__all__ = ["choice_margins", "choose"]


def choice_margins(model, tokenizer, rows: list[dict], *, batch_size: int = 32,
                   progress: bool = True, desc: str = "scoring") -> np.ndarray:
    """log p(candidate 1) − log p(candidate 2) for every row (sequence log-probs).

    ``model`` is run in eval mode without gradients, in the dtype it has.
    """
    import torch
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise DeltaTheoryError(f"batch_size={batch_size} must be at least 1")
    for r in rows:
        if len(r.get("candidates", ())) != 2:
            raise DeltaTheoryError(f"row {r.get('id')!r} needs exactly two 'candidates'; "
                                   "choice scoring is for binary tasks such as "
                                   "arithmetic-choice")
    seqs = [encode_completion(tokenizer, r["prompt"], c) for r in rows for c in r["candidates"]]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    out = np.empty(len(seqs))
    step = 2 * max(1, batch_size // 2)
    try:
        with torch.inference_mode():
            for s in tqdm(range(0, len(seqs), step), desc=desc, disable=not progress,
                          leave=False):
                ids, att, comp = pad_batch(seqs[s:s + step], pad)
                out[s:s + len(ids)] = sequence_logps(model, ids, att, comp).cpu().numpy()
    finally:
        model.train(was_training)
    return out[0::2] - out[1::2]


def choose(model, tokenizer, rows: list[dict], **kw) -> np.ndarray:
    """Binary labels (1 = the first candidate) from :func:`choice_margins`."""
    return (choice_margins(model, tokenizer, rows, **kw) > 0).astype(np.int8)
