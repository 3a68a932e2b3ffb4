"""Stronger rungs built by training: ``NAME@truth-N`` (see :data:`deltatheory.llm.models.RECIPES`).

A truth rung is the base model fine-tuned on the right answers to N ``addition-choice``
validation questions. Building it needs training, and training loads models, so the builder
lives here, above both :mod:`~deltatheory.llm.models` and :mod:`~deltatheory.llm.train`;
:func:`deltatheory.llm.models.resolve` finds it by name, so neither of those imports the other.
The recipe reads the task's first version (``addition-choice``), whatever newer versions exist,
so a rung's weights never change with the task's versions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from .models import ModelSpec, _atomic_dir, cache_dir, folder_hash
from .tasks import get_task
from .train import TrainConfig, train

__all__ = ["build_truth"]


def build_truth(base_dir: Path, spec: ModelSpec) -> Path:
    """The base fine-tuned on ground-truth answers (see
    :data:`deltatheory.llm.models.RECIPES`), cached like a prune."""
    recipe = f"{spec.recipe}-{spec.arg:g}"
    key = hashlib.sha256(f"{folder_hash(base_dir)}|{recipe}|v1".encode()).hexdigest()[:16]
    target = cache_dir() / f"{base_dir.name}@{recipe}-{key}"

    def build(tmp: Path) -> None:
        import tempfile

        import torch
        from datasets import Dataset
        from transformers import AutoModelForCausalLM, AutoTokenizer

        rows = get_task("addition-choice").prompts("validation", int(spec.arg), seed=0)
        data = Dataset.from_list([
            {"prompt": r["prompt"],
             "chosen": [{"role": "assistant", "content": r["candidates"][1 - r["truth"]]}],
             "rejected": [{"role": "assistant", "content": r["candidates"][r["truth"]]}]}
            for r in rows])
        model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(base_dir)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        cfg = TrainConfig(method="sft", learning_rate=2e-4, epochs=2, batch_size=8, lora=True,
                          lora_r=16, dtype="bf16", max_length=128, seed=0)
        with tempfile.TemporaryDirectory() as work:
            model, tok, _ = train(str(base_dir), data, work, cfg, model=model, tokenizer=tok,
                                  save=False)
        model.to(torch.float32).save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "deltatheory_source.json").write_text(json.dumps(
            {"base": str(base_dir), "base_hash": folder_hash(base_dir), "recipe": spec.recipe,
             "questions": int(spec.arg), "train": dataclasses.asdict(cfg)}))

    return _atomic_dir(target, build)
