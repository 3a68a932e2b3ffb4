"""Two-candidate choice by log-probability: a real model's binary label on an item.

For a row with a chat ``prompt`` and two ``candidates`` (assistant answers), the model's label
is 1 when it gives the first candidate the higher sequence log-probability. The completion is
tokenised exactly as the chat template writes an assistant turn, the form DPO trains on, so
what DPO raises (the chosen answer's log-probability relative to the rejected one's) is what
this measures.

Two ways to score, which agree to float tolerance (tested): ``fast=True`` (the default)
runs the part of the prompt every item shares (the chat template's system prompt) once, each
item's own prompt once for both candidates, and the LM head only where an answer token is
predicted (:func:`shared_prefix_logps`); ``fast=False`` scores every (prompt, candidate)
sequence on its own through :func:`deltatheory.llm.logprobs.sequence_logps`.
"""

from __future__ import annotations

import numpy as np

from deltatheory.errors import DeltaTheoryError

from .logprobs import completion_logps

__all__ = ["cache_keyword", "choice_margins", "choose", "choice_answers", "shared_prefix_logps"]


def choice_margins(model, tokenizer, rows: list[dict], *, batch_size: int = 32,
                   progress: bool = True, desc: str = "scoring", fast: bool = True) -> np.ndarray:
    """log p(candidate 1) − log p(candidate 2) for every row (sequence log-probs).

    ``model`` is run in eval mode without gradients, in the dtype it has. ``fast``: share the
    prompts' computation between candidates and items (see the module docstring).
    ``batch_size``: items per forward pass on the fast path (each item's prompt runs once, its
    candidates' differing tails are short), sequences per pass on the plain one.
    """
    if batch_size < 1:
        raise DeltaTheoryError(f"batch_size={batch_size} must be at least 1")
    for r in rows:
        if len(r.get("candidates", ())) != 2:
            raise DeltaTheoryError(f"row {r.get('id')!r} needs exactly two 'candidates'; "
                                   "choice scoring is for binary tasks such as "
                                   "arithmetic-choice")
    if fast:
        lp = shared_prefix_logps(model, tokenizer, [(r["prompt"], r["candidates"]) for r in rows],
                                 batch_size=batch_size, progress=progress,
                                 desc=desc)
        return lp[:, 0] - lp[:, 1]
    items = [(r["prompt"], c) for r in rows for c in r["candidates"]]
    out = completion_logps(model, tokenizer, items, batch_size=2 * max(1, batch_size // 2),
                           progress=progress, desc=desc)
    return out[0::2] - out[1::2]


def shared_prefix_logps(model, tokenizer, items: list[tuple[list[dict], list[str]]], *,
                        batch_size: int = 16, progress: bool = True,
                        desc: str = "scoring") -> np.ndarray:
    """Sequence log-probabilities of several answers to each prompt, sharing the prompt work.

    ``items``: (chat prompt, [answer, …]) with the same number of answers each. Returns an
    array (items, answers). Each (prompt, answer) is tokenised as
    :func:`~deltatheory.llm.logprobs.encode_completion` does; the tokens every item's prompt
    starts with (the chat template's system prompt) are run once, and their key/value cache is
    reused for every batch; each item's remaining prompt tokens, and the answer tokens all its
    answers start with (``"72 + 44 = 11"`` of ``"… = 116"`` and ``"… = 118"``), run once for all
    its answers; each answer's own tail then runs on top of that cache, and the LM head is
    applied only at positions that predict an answer token. RoPE positions are given
    explicitly, so padding between the prompt and the answer changes nothing. Same values as
    scoring each sequence on its own, to float tolerance.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import DynamicCache

    from .logprobs import _softcap, encode_completion

    if not items:
        return np.zeros((0, 0))
    n_ans = len(items[0][1])
    if n_ans < 1 or any(len(a) != n_ans for _, a in items):
        raise DeltaTheoryError("every item needs the same number (>= 1) of answers")
    if batch_size < 1:
        raise DeltaTheoryError(f"batch_size={batch_size} must be at least 1")
    enc = []
    for prompt, answers in items:
        seqs = [encode_completion(tokenizer, prompt, a) for a in answers]
        head = seqs[0][0][:seqs[0][1]]
        tails = [ids[h:] for ids, h in seqs]
        # answer tokens every answer starts with join the item's own run (each answer keeps
        # at least one token of its own, so a prefix answer or identical answers still work)
        c = min(map(len, tails)) - 1
        for t in tails[1:]:
            k = 0
            while k < c and t[k] == tails[0][k]:
                k += 1
            c = k
        c = max(c, 0)
        enc.append((head + tails[0][:c], [t[c:] for t in tails], c))
    # the shared prefix: common to every prompt, leaving each at least one token of its own
    # (that token's hidden state predicts the first answer token)
    p = min(len(h) - c for h, _, c in enc) - 1
    first = enc[0][0]
    for h, _, _ in enc[1:]:
        k = 0
        while k < p and h[k] == first[k]:
            k += 1
        p = k
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    decoder, head_layer, cap = model.get_decoder(), model.get_output_embeddings(), _softcap(model)
    kw = cache_keyword(decoder)

    def logp(h):  # log-softmax over the vocabulary, in float32
        logits = head_layer(h).float()
        if cap:
            logits = cap * torch.tanh(logits / cap)
        return torch.log_softmax(logits, dim=-1)

    out = np.empty((len(items), n_ans))
    try:
        with torch.inference_mode():
            prefix = None
            if p > 0:
                ids = torch.tensor([first[:p]], device=device)
                cache = DynamicCache(config=model.config)
                decoder(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True,
                        **{kw: cache})
                prefix = [(layer.keys, layer.values) for layer in cache.layers]
            for s in tqdm(range(0, len(enc), batch_size), desc=desc, disable=not progress,
                          leave=False):
                chunk = enc[s:s + batch_size]
                b = len(chunk)
                own = [h[p:] for h, _, _ in chunk]
                shared = torch.tensor([c for _, _, c in chunk], device=device)
                ws = max(map(len, own))
                q_ids = torch.full((b, ws), pad, dtype=torch.long)
                q_mask = torch.zeros((b, ws), dtype=torch.long)
                for i, x in enumerate(own):
                    q_ids[i, :len(x)] = torch.tensor(x)
                    q_mask[i, :len(x)] = 1
                q_ids, q_mask = q_ids.to(device), q_mask.to(device)
                pre_mask = torch.ones((b, p), dtype=torch.long, device=device)
                cache = DynamicCache(config=model.config)
                if prefix is not None:
                    cache = DynamicCache([(k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1))
                                          for k, v in prefix], config=model.config)
                pos = (p + torch.arange(ws, device=device))[None].expand(b, -1)
                hid = decoder(input_ids=q_ids, attention_mask=torch.cat([pre_mask, q_mask], 1),
                              position_ids=pos, use_cache=True, **{kw: cache}).last_hidden_state
                lens = torch.tensor([len(x) for x in own], device=device)
                first_lp = logp(hid[torch.arange(b, device=device), lens - 1])      # (b, V)
                # the shared answer tokens: position t predicts own token t + 1
                t = torch.arange(ws - 1, device=device)[None]
                sel = (t >= (lens - 1 - shared)[:, None]) & (t <= (lens - 2)[:, None])
                common = torch.zeros(b, dtype=torch.float32, device=device)
                if sel.any():
                    lp_sel = logp(hid[:, :-1][sel]).gather(-1, q_ids[:, 1:][sel][:, None])[:, 0]
                    rows_ = torch.arange(b, device=device)[:, None].expand_as(sel)
                    common = common.index_add(0, rows_[sel], lp_sel)
                # every answer of every item, on a copy of its item's cache
                cache.batch_repeat_interleave(n_ans)
                ans = [a for _, answers, _ in chunk for a in answers]
                wc = max(map(len, ans))
                a_ids = torch.full((b * n_ans, wc), pad, dtype=torch.long)
                a_mask = torch.zeros((b * n_ans, wc), dtype=torch.long)
                for i, x in enumerate(ans):
                    a_ids[i, :len(x)] = torch.tensor(x)
                    a_mask[i, :len(x)] = 1
                a_ids, a_mask = a_ids.to(device), a_mask.to(device)
                mask = torch.cat([pre_mask.repeat_interleave(n_ans, 0),
                                  q_mask.repeat_interleave(n_ans, 0), a_mask], 1)
                pos = (p + lens.repeat_interleave(n_ans))[:, None] + torch.arange(wc,
                                                                                  device=device)
                hid = decoder(input_ids=a_ids, attention_mask=mask, position_ids=pos,
                              use_cache=True, **{kw: cache}).last_hidden_state
                keep = a_mask[:, 1:].bool()                       # position t predicts t + 1
                rest = logp(hid[:, :-1][keep]).gather(-1, a_ids[:, 1:][keep][:, None])[:, 0]
                rows_ = torch.arange(b * n_ans, device=device)[:, None].expand_as(keep)
                total = torch.zeros(b * n_ans, dtype=torch.float32, device=device).index_add(
                    0, rows_[keep], rest)
                total += first_lp.repeat_interleave(n_ans, 0).gather(
                    -1, a_ids[:, :1])[:, 0] * a_mask[:, 0]
                total += common.repeat_interleave(n_ans, 0)
                out[s:s + b] = total.view(b, n_ans).cpu().numpy()
    finally:
        model.train(was_training)
    return out


def cache_keyword(decoder) -> str:
    """The keyword a decoder's ``forward`` takes its key/value cache by: ``cache`` from
    transformers 5.25 (which deprecates ``past_key_values``, to be removed in 5.40),
    ``past_key_values`` before. Read from the signature, so every version in the declared range
    gets its own current name and no deprecation warning."""
    import inspect

    params = inspect.signature(decoder.forward).parameters
    if "cache" in params:
        return "cache"
    if "past_key_values" in params:
        return "past_key_values"
    raise DeltaTheoryError(f"{type(decoder).__name__}.forward takes neither `cache` nor "
                           "`past_key_values`: this transformers release is outside the range "
                           "deltatheory is tested with (see pyproject.toml)")


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
                                     "scorer": "shared-prefix-2",
                                     "rows": [[r["id"], r["prompt"],
                                                                 r["candidates"]] for r in rows]},
                                    sort_keys=True).encode()).hexdigest()[:12]
    path = Path(folder) / "responses" / (model_spec.replace("/", "__") + f".choice.{key}.json")
    if path.exists():
        return json.loads(path.read_text())
    if model is None:
        model, tokenizer = load(model_spec, dtype=dtype)
    else:
        from .models import to_dtype

        model = to_dtype(model, dtype)
    labels = choose(model, tokenizer, rows, batch_size=batch_size, progress=progress,
                    desc=f"choose {model_spec}")
    out = {r["id"]: r["candidates"][0 if lab == 1 else 1] for r, lab in zip(rows, labels,
                                                                           strict=True)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, out)
    return out
