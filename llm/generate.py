"""Batched, chat-templated generation, resumable, into one table with a column per model.

Rows are appended to ``responses/<model>.jsonl`` as each batch finishes (flushed and fsynced), so
an interrupted run loses at most the batch in flight and a rerun skips finished rows. The table
(:func:`table`) joins the shards by prompt id: the paper's layout, one column per model. vLLM is
used when it is installed and a GPU is present; transformers otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from deltatheory.errors import DeltaTheoryError

__all__ = ["generate", "table", "shard_path"]


def shard_path(folder: Path, model: str) -> Path:
    return Path(folder) / "responses" / (model.replace("/", "__") + ".jsonl")


def _done(path: Path) -> dict:
    rows = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:  # a torn last line from a crash: that row is redone
                continue
            rows[r["id"]] = r
    return rows


def _use_vllm() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def generate(model_spec: str, rows: list[dict], folder: str | Path, *, max_new_tokens: int = 256,
             batch_size: int = 8, temperature: float = 0.0, seed: int = 0,
             dtype: str = "float32", progress: bool = True, model=None, tokenizer=None) -> dict:
    """Answer every row's chat ``prompt`` with ``model_spec``; returns {id: response}.

    Greedy when ``temperature`` is 0, sampled otherwise (seeded). ``model``/``tokenizer`` may be
    passed to reuse a loaded model (e.g. right after training).
    """
    if batch_size < 1 or max_new_tokens < 1:
        raise DeltaTheoryError(f"batch_size={batch_size} and max_new_tokens={max_new_tokens} "
                               "must be at least 1")
    path = shard_path(Path(folder), model_spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = _done(path)
    todo = [r for r in rows if r["id"] not in done]
    if todo:
        if _use_vllm() and model is None:  # pragma: no cover - needs a GPU and vllm
            _generate_vllm(model_spec, todo, path, max_new_tokens, temperature, seed)
        else:
            _generate_hf(model_spec, todo, path, max_new_tokens, batch_size, temperature, seed,
                         dtype, progress, model, tokenizer)
        done = _done(path)
    return {r["id"]: done[r["id"]]["response"] for r in rows}


def _append(path: Path, records: list[dict]) -> None:
    torn = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    with open(path, "a") as fh:
        if torn:  # a crash mid-line: start on a fresh line so the torn row stays separate
            fh.write("\n")
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _generate_hf(model_spec, todo, path, max_new_tokens, batch_size, temperature, seed, dtype,
                 progress, model, tokenizer):
    import torch
    from tqdm.auto import tqdm

    from .models import load

    if model is None:
        model, tokenizer = load(model_spec, dtype=dtype)
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(seed)
    bar = tqdm(total=len(todo), desc=f"generate {model_spec}", unit="prompt", disable=not progress)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        texts = [tokenizer.apply_chat_template(r["prompt"], tokenize=False,
                                               add_generation_prompt=True) for r in batch]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        kw = dict(max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id)
        if temperature > 0:
            kw.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.no_grad():
            out = model.generate(**enc, **kw)
        new = out[:, enc["input_ids"].shape[1]:]
        answers = tokenizer.batch_decode(new, skip_special_tokens=True)
        _append(path, [{"id": r["id"], "model": model_spec, "response": a.strip()}
                       for r, a in zip(batch, answers, strict=True)])
        bar.update(len(batch))
    bar.close()


def _generate_vllm(model_spec, todo, path, max_new_tokens, temperature, seed):  # pragma: no cover
    from vllm import LLM, SamplingParams

    from .models import resolve

    llm = LLM(model=resolve(model_spec), seed=seed)
    params = SamplingParams(max_tokens=max_new_tokens, temperature=temperature, seed=seed)
    outs = llm.chat([r["prompt"] for r in todo], params)
    _append(path, [{"id": r["id"], "model": model_spec, "response": o.outputs[0].text.strip()}
                   for r, o in zip(todo, outs, strict=True)])


def table(rows: list[dict], folder: str | Path, models: list[str]) -> list[dict]:
    """One row per prompt: id, prompt, and one column per model (its response)."""
    shards = {m: _done(shard_path(Path(folder), m)) for m in models}
    out = []
    for r in rows:
        rec = {k: v for k, v in r.items()}
        for m in models:
            if r["id"] not in shards[m]:
                raise DeltaTheoryError(f"model {m!r} has no response for prompt {r['id']!r}: "
                                       "run generation first")
            rec[m] = shards[m][r["id"]]["response"]
        out.append(rec)
    return out
