"""Sequence log-probabilities: the one function every part of the companion uses.

:func:`sequence_logps` sums log π(token) over the completion tokens of a padded batch. Choice
scoring (:mod:`deltatheory.llm.choice`), the daDPO / weighted-DPO loss and the daDPO teacher's
log-probabilities (:mod:`deltatheory.llm.train`) all go through it, so they agree token for
token. The LM head is applied only at positions that predict a completion token (a prompt
position's logits over the whole vocabulary are never formed), which is what makes scoring
short answers after long prompts cheap.

:func:`encode_completion` tokenises (chat prompt, assistant answer) exactly as the chat template
writes an assistant turn — the form DPO trains on.
"""

from __future__ import annotations

from deltatheory.errors import DeltaTheoryError

__all__ = ["sequence_logps", "encode_completion", "pad_batch", "completion_logps",
           "completion_hidden"]


def _softcap(model):
    cap = getattr(getattr(model, "config", None), "final_logit_softcapping", None)
    return float(cap) if cap else None


def sequence_logps(model, input_ids, attention_mask, completion_mask):
    """Σ_t log π(x_{t+1} | x_≤t) over completion tokens, one value per row (shape (B,)).

    Args:
      model: a causal LM (transformers, optionally wrapped by PEFT), in the dtype it has.
      input_ids, attention_mask: (B, L) right-padded token ids and their mask.
      completion_mask: (B, L), 1 on the tokens whose log-probability is summed (the answer).

    The decoder runs once over the batch; the output embedding (LM head) is applied only to the
    hidden states at positions t with ``completion_mask[:, t + 1] == 1``, and log-softmax is taken
    in float32. Gradients flow when called outside ``torch.no_grad``.
    """
    decoder = model.get_decoder()
    hidden = decoder(input_ids=input_ids, attention_mask=attention_mask,
                     use_cache=False).last_hidden_state                  # (B, L, H)
    return _logps_from_hidden(model, hidden, input_ids, completion_mask)


def _logps_from_hidden(model, hidden, input_ids, completion_mask):
    """:func:`sequence_logps` given the decoder's last hidden states (B, L, H)."""
    import torch

    keep = completion_mask[:, 1:].bool()                                 # position t predicts t+1
    h = hidden[:, :-1][keep]                                             # (N, H)
    logits = model.get_output_embeddings()(h).float()                    # (N, V)
    cap = _softcap(model)
    if cap:
        logits = cap * torch.tanh(logits / cap)
    lp = torch.log_softmax(logits, dim=-1)
    tok = lp.gather(-1, input_ids[:, 1:][keep][:, None])[:, 0]
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)[:, None].expand_as(keep)
    return torch.zeros(input_ids.shape[0], dtype=lp.dtype, device=lp.device).index_add(
        0, rows[keep], tok)


def encode_completion(tokenizer, prompt: list[dict], answer: str) -> tuple[list[int], int]:
    """(token ids of prompt + answer as an assistant turn, number of prompt tokens).

    A tokenizer without a chat template (a base model such as the base Gemma 3 270M) gets the
    plain transcript generation uses (:func:`deltatheory.llm.generate.render_prompt` with
    ``chat=False``: "Question: …" / "Answer:"), with the tokenizer's own special tokens (its BOS)
    in front, and the answer as its continuation after one space: how a base model is scored
    (lm-eval's ``target_delimiter=" "``). The prompt and the answer are tokenised apart, so the
    boundary never merges tokens and every candidate shares the prompt's tokens.
    """
    if not getattr(tokenizer, "chat_template", None):
        from .generate import render_prompt

        head = render_prompt(tokenizer, prompt, chat=False)
        h = tokenizer(head, add_special_tokens=True)["input_ids"]
        if tokenizer.eos_token_id is not None and h and h[-1] == tokenizer.eos_token_id:
            h = h[:-1]  # a tokenizer that closes every text with EOS: the answer follows
        t = tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
        return h + t, len(h)
    head = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": answer}],
                                         tokenize=False)
    if not full.startswith(head):
        raise DeltaTheoryError("the chat template does not extend the prompt with the answer; "
                               "scoring a completion needs a template that appends assistant "
                               "turns")
    h = tokenizer(head, add_special_tokens=False)["input_ids"]
    t = tokenizer(full[len(head):], add_special_tokens=False)["input_ids"]
    return h + t, len(h)


def pad_batch(seqs: list[tuple[list[int], int]], pad_id: int):
    """Right-pad encoded (ids, prompt length) pairs.

    Returns (input_ids, attention_mask, completion_mask), each (B, L).
    """
    import torch

    width = max(len(ids) for ids, _ in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    att = torch.zeros((len(seqs), width), dtype=torch.long)
    comp = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, (x, h) in enumerate(seqs):
        ids[i, :len(x)] = torch.tensor(x)
        att[i, :len(x)] = 1
        comp[i, h:len(x)] = 1
    return ids, att, comp


def completion_logps(model, tokenizer, items: list[tuple[list[dict], str]], *,
                     batch_size: int = 32, progress: bool = True, desc: str = "scoring"):
    """Sequence log-probability of each (chat prompt, assistant answer) in ``items``.

    Returns a float64 numpy array (one value per item). ``model`` runs in eval mode without
    gradients, in the dtype it has; its training mode is restored afterwards.
    """
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise DeltaTheoryError(f"batch_size={batch_size} must be at least 1")
    seqs = [encode_completion(tokenizer, p, a) for p, a in items]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device  # e.g. CUDA after a Trainer moved the model
    out = np.empty(len(seqs))
    try:
        with torch.inference_mode():
            for s in tqdm(range(0, len(seqs), batch_size), desc=desc, disable=not progress,
                          leave=False):
                ids, att, comp = (t.to(device) for t in pad_batch(seqs[s:s + batch_size], pad))
                out[s:s + len(ids)] = sequence_logps(model, ids, att, comp).float().cpu().numpy()
    finally:
        model.train(was_training)
    return out


def completion_hidden(model, tokenizer, items: list[tuple[list[dict], str]], *,
                      batch_size: int = 32, progress: bool = False, desc: str = "scoring"):
    """Per (chat prompt, answer): its sequence log-probability, its number of answer tokens and
    the sum of the last layer's hidden states at the positions that predict its tokens (the
    h's of CHES, Razin et al. 2025). Returns three numpy arrays: (N,), (N,), (N, hidden).

    The decoder runs once per batch; the log-probabilities are computed from its hidden states
    exactly as :func:`sequence_logps` computes them."""
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    seqs = [encode_completion(tokenizer, p, a) for p, a in items]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    lps, lens, hs = [], [], []
    try:
        with torch.inference_mode():
            for s in tqdm(range(0, len(seqs), batch_size), desc=desc, disable=not progress,
                          leave=False):
                ids, att, comp = (t.to(device) for t in pad_batch(seqs[s:s + batch_size], pad))
                raw = model.get_decoder()(input_ids=ids, attention_mask=att,
                                          use_cache=False).last_hidden_state
                keep = comp[:, 1:].float()                                   # (B, L-1)
                hs.append(torch.einsum("bl,blh->bh", keep,
                                       raw.float()[:, :-1]).cpu().numpy())
                lens.append(keep.sum(1).cpu().numpy())
                lps.append(_logps_from_hidden(model, raw, ids, comp).float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(lps), np.concatenate(lens), np.concatenate(hs)
