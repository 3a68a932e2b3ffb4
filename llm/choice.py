"""Two-candidate choice by log-probability: a real model's binary label on an item.

For a row with a chat ``prompt`` and two ``candidates`` (assistant answers), the model's label
is 1 when it gives the first candidate the higher sequence log-probability. The completion is
tokenised exactly as the chat template writes an assistant turn, the form DPO trains on, so
what DPO raises (the chosen answer's log-probability relative to the rejected one's) is what
this measures.
"""

from __future__ import annotations

import numpy as np

from deltatheory.errors import DeltaTheoryError

__all__ = ["choice_margins", "choose"]


def _encode(tok, prompt, answer):
    head = tok.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(prompt + [{"role": "assistant", "content": answer}],
                                   tokenize=False)
    if not full.startswith(head):
        raise DeltaTheoryError("the chat template does not extend the prompt with the answer; "
                               "choice scoring needs a template that appends assistant turns")
    h = tok(head, add_special_tokens=False)["input_ids"]
    t = tok(full[len(head):], add_special_tokens=False)["input_ids"]
    return h + t, len(h)


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
    seqs = [_encode(tokenizer, r["prompt"], c) for r in rows for c in r["candidates"]]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    out = np.empty(len(seqs))
    step = 2 * max(1, batch_size // 2)
    try:
        with torch.inference_mode():
            for s in tqdm(range(0, len(seqs), step), desc=desc, disable=not progress,
                          leave=False):
                chunk = seqs[s:s + step]
                width = max(len(ids) for ids, _ in chunk)
                ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                att = torch.zeros((len(chunk), width), dtype=torch.long)
                mask = torch.zeros((len(chunk), width - 1))
                for i, (x, h) in enumerate(chunk):
                    ids[i, :len(x)] = torch.tensor(x)
                    att[i, :len(x)] = 1
                    mask[i, h - 1:len(x) - 1] = 1.0  # positions predicting answer tokens
                logits = model(input_ids=ids, attention_mask=att).logits[:, :-1]
                keep = mask.bool()  # normalise only where an answer token is predicted
                lp = torch.log_softmax(logits[keep].float(), -1)
                tok_lp = lp.gather(-1, ids[:, 1:][keep][:, None])[:, 0]
                rows_of = torch.arange(len(chunk))[:, None].expand_as(keep)[keep]
                seq = torch.zeros(len(chunk)).index_add_(0, rows_of, tok_lp)
                out[s:s + len(chunk)] = seq.numpy()
    finally:
        model.train(was_training)
    return out[0::2] - out[1::2]


def choose(model, tokenizer, rows: list[dict], **kw) -> np.ndarray:
    """Binary labels (1 = the first candidate) from :func:`choice_margins`."""
    return (choice_margins(model, tokenizer, rows, **kw) > 0).astype(np.int8)
