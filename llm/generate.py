"""Batched, chat-templated generation, resumable, into one table with a column per model.

Rows are appended to ``responses/<model>.<key>.jsonl`` as each batch finishes (flushed and
fsynced), so an interrupted run loses at most the batch in flight and a rerun skips finished
rows. ``key`` hashes everything that determines an answer: the model's identity (the content
hash of its folder, or the fingerprint of a model passed in memory) and the
:class:`GenerationConfig`; each row also records a hash of its prompt. A rerun with another
model, other settings or other prompts therefore never reuses an answer it did not write.

Batches are fixed slices of the requested rows, and each batch is seeded from (seed, its item
ids), so a resumed run writes exactly the answers an uninterrupted one would. The table
(:func:`table`) joins the shards by prompt id: the paper's layout, one column per model. vLLM is
used when it is installed and a GPU is present; transformers otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from deltatheory.errors import DeltaTheoryError
from deltatheory.rng import seed_for

__all__ = ["GenerationConfig", "generate", "table", "shard_path", "model_identity", "uses_chat",
           "render_prompt"]


@dataclass(frozen=True)
class GenerationConfig:
    """How answers are generated: the one source of generation defaults."""

    max_new_tokens: int = 256
    batch_size: int = 8
    temperature: float = 0.0  # 0: greedy
    dtype: str = "fp32"

    def __post_init__(self):
        from .models import normalize_dtype

        object.__setattr__(self, "dtype", normalize_dtype(self.dtype))
        for name in ("max_new_tokens", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise DeltaTheoryError(f"{name}={v!r} must be a whole number >= 1")
        if not (isinstance(self.temperature, int | float) and 0 <= self.temperature < 100):
            raise DeltaTheoryError(f"temperature={self.temperature!r} must be in [0, 100)")

    def key_fields(self, seed: int) -> dict:
        """What determines an answer (batch_size too: a batch's padding changes the numerics)."""
        return {**asdict(self), "seed": int(seed)}


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def model_identity(model_spec: str, model=None) -> str:
    """What identifies the weights: the fingerprint of an in-memory model, the content hash of a
    local folder (built-in and derived models included), or a hub id as given."""
    from .models import fingerprint, folder_hash, resolve

    if model is not None:
        return "weights:" + fingerprint(model)
    path = resolve(model_spec)
    if Path(path).exists():
        return "folder:" + folder_hash(Path(path))
    try:  # a hub id: its commit (the snapshot folder's name), the same before and after the
        # weights are downloaded; fetching config.json alone is enough to learn it
        from huggingface_hub import snapshot_download

        return f"hub:{path}@{Path(snapshot_download(path, allow_patterns=['config.json'])).name}"
    except Exception:  # noqa: BLE001 - unreachable and not cached: loading will say so
        return "hub:" + path


def shard_path(folder: Path, model: str, gen: GenerationConfig | None = None, seed: int = 0,
               identity: str | None = None, chat: bool | None = None) -> Path:
    """Where ``model``'s answers under ``gen`` and ``seed`` are kept. ``chat=False`` (a plain
    transcript forced by the caller, e.g. for a base model held in memory) is part of the key;
    otherwise the prompt format follows from the model itself, which the identity covers."""
    gen = gen or GenerationConfig()
    identity = identity or model_identity(model)
    # two backends never share a shard (a model held in memory always runs on transformers)
    backend = "vllm" if _use_vllm() and not identity.startswith("weights:") else "hf"
    key = _sha({"model": identity, "backend": backend, **gen.key_fields(seed),
                **({"chat": False} if chat is False else {})})
    return Path(folder) / "responses" / (model.replace("/", "__") + f".{key}.jsonl")


def _prompt_sha(row: dict) -> str:
    return _sha(row["prompt"])


def _done(path: Path, rows: list[dict] | None = None) -> dict:
    """Finished records by id (a torn last line from a crash is ignored: that row is redone);
    with ``rows``, only records written for the same prompt."""
    want = {r["id"]: _prompt_sha(r) for r in rows} if rows is not None else None
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if want is None or want.get(r.get("id")) == r.get("prompt_sha"):
                out[r["id"]] = r
    return out


def _use_vllm() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def batch_seed(seed: int, ids: list[str]) -> int:
    """The seed of one batch: a function of (seed, the batch's item ids) only."""
    h = int(hashlib.sha256("\0".join(map(str, ids)).encode()).hexdigest()[:8], 16)
    return seed_for(seed, h)


def generate(model_spec: str, rows: list[dict], folder: str | Path,
             gen: GenerationConfig | None = None, *, seed: int = 0, progress: bool = True,
             model=None, tokenizer=None, chat: bool | None = None) -> dict:
    """Answer every row's chat ``prompt`` with ``model_spec``; returns {id: response}.

    Greedy when ``gen.temperature`` is 0, sampled otherwise (seeded per batch).
    ``model``/``tokenizer`` may be passed to reuse a loaded model (e.g. right after training);
    its weights' fingerprint then keys the cache, and it is converted to ``gen.dtype`` in place.
    ``chat``: the prompt format (None: :func:`uses_chat` of ``model_spec``; pass it for a model
    in memory, whose ``model_spec`` is only a label).
    """
    gen = gen or GenerationConfig()
    identity = model_identity(model_spec, model)
    path = shard_path(Path(folder), model_spec, gen, seed, identity, chat)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = _done(path, rows)
    bs = gen.batch_size
    batches = [rows[i:i + bs] for i in range(0, len(rows), bs)]
    todo = [b for b in batches if any(r["id"] not in done for r in b)]
    if todo:
        if _use_vllm() and model is None:  # pragma: no cover - needs a GPU and vllm
            _generate_vllm(model_spec, [r for b in todo for r in b if r["id"] not in done],
                           path, gen, seed)
        else:
            _generate_hf(model_spec, todo, done, path, gen, seed, progress, model, tokenizer,
                         chat)
        done = _done(path, rows)
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


def uses_chat(model_spec: str, tokenizer) -> bool:
    """Whether ``model_spec`` is prompted through its chat template (False for a base model:
    a built-in marked so, or a tokenizer without a chat template)."""
    from .models import BUILTIN

    base = model_spec.split("@", 1)[0]
    if base in BUILTIN and "chat" in BUILTIN[base]:
        return bool(BUILTIN[base]["chat"])
    return bool(getattr(tokenizer, "chat_template", None))


def render_prompt(tokenizer, messages: list[dict], chat: bool = True) -> str:
    """The text a model continues: its chat template with the generation prompt, or, for a base
    model, a plain transcript ("Question: …" / "Answer: …" turns) ending in ``Answer:`` whose
    continuation is read up to the first line break.

    >>> print(render_prompt(None, [{"role": "user", "content": "What is 2+2?"},
    ...                            {"role": "assistant", "content": "4."},
    ...                            {"role": "user", "content": "What is 3+3?"}], chat=False))
    Question: What is 2+2?
    Answer: 4.
    <BLANKLINE>
    Question: What is 3+3?
    Answer:
    """
    if chat:
        return tokenizer.apply_chat_template(messages, tokenize=False,
                                             add_generation_prompt=True)
    out = []
    for m in messages:
        if m["role"] == "user":
            out.append(f"Question: {m['content']}\n")
        elif m["role"] == "assistant":
            out.append(f"Answer: {m['content']}\n\n")
        else:
            out.append(f"{m['content']}\n\n")
    return "".join(out) + "Answer:"


def _generate_hf(model_spec, batches, done, path, gen, seed, progress, model, tokenizer,
                 chat=None):
    import torch
    from tqdm.auto import tqdm

    from .models import load

    if model is None:
        model, tokenizer = load(model_spec, dtype=gen.dtype)
    else:  # a model in memory runs in the configured dtype too (converted in place)
        from .models import to_dtype

        model = to_dtype(model, gen.dtype)
    was_training = model.training
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    chat = uses_chat(model_spec, tokenizer) if chat is None else chat
    bar = tqdm(total=sum(map(len, batches)), desc=f"generate {model_spec}", unit="prompt",
               disable=not progress)
    try:
        for batch in batches:
            texts = [render_prompt(tokenizer, r["prompt"], chat) for r in batch]
            # a chat template writes its own special tokens; a plain transcript needs BOS
            enc = tokenizer(texts, return_tensors="pt", padding=True,
                            add_special_tokens=not chat)
            enc = {k: v.to(model.device) for k, v in enc.items()}
            kw = dict(max_new_tokens=gen.max_new_tokens, pad_token_id=tokenizer.pad_token_id)
            if not chat:  # a base model's answer ends at the line break
                kw.update(stop_strings=["\n"], tokenizer=tokenizer)
            if gen.temperature > 0:
                kw.update(do_sample=True, temperature=gen.temperature, top_p=1.0, top_k=0)
            else:
                kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            torch.manual_seed(batch_seed(seed, [r["id"] for r in batch]))
            with torch.no_grad():
                out = model.generate(**enc, **kw)
            new = out[:, enc["input_ids"].shape[1]:]
            answers = tokenizer.batch_decode(new, skip_special_tokens=True)
            if not chat:
                answers = [(a.strip().split("\n") or [""])[0] for a in answers]
            _append(path, [{"id": r["id"], "prompt_sha": _prompt_sha(r), "model": model_spec,
                            "response": a.strip()}
                           for r, a in zip(batch, answers, strict=True) if r["id"] not in done])
            bar.update(len(batch))
    finally:
        bar.close()
        model.train(was_training)


def _generate_vllm(model_spec, todo, path, gen, seed):  # pragma: no cover - GPU and vllm
    from vllm import LLM, SamplingParams

    from .models import resolve

    dtype = {"bf16": "bfloat16", "fp32": "float32"}[gen.dtype]
    llm = LLM(model=resolve(model_spec), seed=seed, dtype=dtype)
    tok = llm.get_tokenizer()
    chat = uses_chat(model_spec, tok)
    params = [SamplingParams(max_tokens=gen.max_new_tokens, temperature=gen.temperature,
                             seed=batch_seed(seed, [r["id"]]), stop=None if chat else ["\n"])
              for r in todo]  # per item
    if chat:
        outs = llm.chat([r["prompt"] for r in todo], params)
    else:  # a base model: the same plain transcript as on transformers, cut at the line break
        outs = llm.generate([render_prompt(tok, r["prompt"], False) for r in todo], params)
    texts = [o.outputs[0].text.strip() for o in outs]
    if not chat:
        texts = [(t.split("\n") or [""])[0] for t in texts]
    _append(path, [{"id": r["id"], "prompt_sha": _prompt_sha(r), "model": model_spec,
                    "response": t} for r, t in zip(todo, texts, strict=True)])


def table(rows: list[dict], folder: str | Path, models: list[str],
          gen: GenerationConfig | None = None, seed: int = 0) -> list[dict]:
    """One row per prompt: id, prompt, and one column per model (its response under ``gen``)."""
    shards = {m: _done(shard_path(Path(folder), m, gen, seed), rows) for m in models}
    out = []
    for r in rows:
        rec = dict(r)
        for m in models:
            if r["id"] not in shards[m]:
                raise DeltaTheoryError(f"model {m!r} has no response for prompt {r['id']!r}: "
                                       "run generation first")
            rec[m] = shards[m][r["id"]]["response"]
        out.append(rec)
    return out
