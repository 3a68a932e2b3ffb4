"""Training: TRL's DPO family, SimPO (CPOTrainer), daDPO and weighted DPO, and an SFT baseline.

Where TRL has the loss it is used as is: ``dpo`` (sigmoid), ``dpo-norm`` (sigmoid_norm, the
paper's length-normalised DPO, β = 5), ``ipo``, ``simpo`` (CPOTrainer, loss_type="simpo",
cpo_alpha=0). ``dadpo`` and ``weighted`` subclass DPOTrainer and replace the loss only (see
:mod:`llm.losses`); reference log-probs are precomputed for them, and daDPO's teacher log-probs
too. ``sft`` trains with SFTTrainer on the chosen answers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from deltatheory.errors import DeltaTheoryError

__all__ = ["METHODS", "TrainConfig", "train"]

METHODS = {
    "dpo": {"beta": 0.1},
    "dpo-norm": {"beta": 5.0},
    "ipo": {"beta": 0.1},
    "simpo": {"beta": 2.0},
    "dadpo": {"beta": 0.1},
    "weighted": {"beta": 0.1},
    "sft": {},
}
_TRL_LOSS = {"dpo": "sigmoid", "dpo-norm": "sigmoid_norm", "ipo": "ipo", "dadpo": "sigmoid",
             "weighted": "sigmoid"}
_EXTRA = ("teacher_chosen_logps", "teacher_rejected_logps", "weight")


@dataclass
class TrainConfig:
    """Training settings; ``beta`` None means the method's default (see :data:`METHODS`)."""

    method: str = "dpo"
    learning_rate: float = 5e-5
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 4
    grad_accum: int = 1
    lora: bool = True
    lora_r: int = 16
    dtype: str = "bf16"  # CPU: bf16 autocast or fp32; GPU: bf16
    beta: float | None = None
    beta1: float = 0.1  # daDPO: weight of the reference term
    beta2: float = 0.1  # daDPO: weight of the teacher term (0 gives DPO)
    teacher: str | None = None  # daDPO: teacher model spec (same tokenizer as the student)
    weight_column: str | None = None  # weighted: a per-pair column; else the utility gap
    weight_mapping: str = "linear"
    simpo_gamma: float = 0.5
    max_length: int = 512
    warmup: float = 0.03
    scheduler: str = "cosine"
    seed: int = 0
    extra: dict = field(default_factory=dict)  # passed to the TRL config as is

    def __post_init__(self):
        if self.method not in METHODS:
            raise DeltaTheoryError(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        if self.dtype not in ("bf16", "fp32"):
            raise DeltaTheoryError(f"dtype {self.dtype!r} is not one of bf16, fp32")
        for name in ("learning_rate", "epochs", "batch_size", "grad_accum"):
            if not getattr(self, name) > 0:
                raise DeltaTheoryError(f"{name}={getattr(self, name)} must be positive")
        if self.method == "dadpo" and not self.teacher:
            raise DeltaTheoryError("method dadpo needs a teacher model (train.teacher)")

    @property
    def resolved_beta(self) -> float | None:
        return self.beta if self.beta is not None else METHODS[self.method].get("beta")


def _common_args(cfg: TrainConfig, out: str) -> dict:
    import torch

    gpu = torch.cuda.is_available()
    args = dict(output_dir=out, learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs,
                max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
                gradient_accumulation_steps=cfg.grad_accum, lr_scheduler_type=cfg.scheduler,
                warmup_steps=cfg.warmup, logging_steps=1, save_strategy="no", report_to="none",
                seed=cfg.seed, data_seed=cfg.seed, activation_checkpointing=False,
                disable_tqdm=False, max_length=cfg.max_length)
    if gpu:
        args.update(bf16=True)
    elif cfg.dtype == "bf16":
        args.update(bf16=True, use_cpu=True)
    else:
        args.update(bf16=False, use_cpu=True)
    args.update(cfg.extra)
    return args


def _peft(cfg: TrainConfig):
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, lora_dropout=0.0,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def _weighted_trainer_class():
    import torch
    from trl import DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    from .losses import dadpo_loss, weighted_dpo_loss

    class _Collator(DataCollatorForPreference):
        def torch_call(self, examples):
            out = super().torch_call(examples)
            for k in _EXTRA:
                if k in examples[0]:
                    out[k] = torch.tensor([float(e[k]) for e in examples])
            return out

    class DeltaDPOTrainer(DPOTrainer):
        """DPOTrainer with daDPO or per-pair weights in place of the sigmoid loss."""

        def __init__(self, *a, method: str, beta1: float = 0.1, beta2: float = 0.0, **kw):
            self._method, self._beta1, self._beta2 = method, beta1, beta2
            super().__init__(*a, **kw)
            self.data_collator = _Collator(pad_token_id=self.data_collator.pad_token_id)

        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()
            self._signature_columns = list(self._signature_columns) + list(_EXTRA)

        def _compute_loss(self, model, inputs, return_outputs):
            mode = "train" if self.model.training else "eval"
            extra = {k: inputs.pop(k) for k in _EXTRA if k in inputs}
            keep = {"completion_mask", "ref_chosen_logps", "ref_rejected_logps"}
            kwargs = {k: v for k, v in inputs.items() if k not in keep}
            kwargs["use_cache"] = False
            mask = inputs["completion_mask"]
            labels = inputs["input_ids"].masked_fill(mask == 0, -100)
            outputs = model(**kwargs, labels=labels, fused_lm_head=True)
            seq_len = mask.size(1) - 1
            logps = outputs.log_probs[:, -seq_len:].sum(dim=1)
            pc, pr = logps.chunk(2, dim=0)
            rc, rr = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
            if self._method == "dadpo":
                per_pair = dadpo_loss(pc, pr, rc, rr, extra["teacher_chosen_logps"],
                                      extra["teacher_rejected_logps"], self._beta1, self._beta2)
            else:
                per_pair = weighted_dpo_loss(pc, pr, rc, rr, extra["weight"], self.beta)
            loss = per_pair.mean()
            cr, rj = self.beta * (pc - rc).detach(), self.beta * (pr - rr).detach()
            m = self._metrics[mode]
            m["rewards/chosen"].append(cr.mean().item())
            m["rewards/rejected"].append(rj.mean().item())
            m["rewards/accuracies"].append((cr > rj).float().mean().item())
            m["rewards/margins"].append((cr - rj).mean().item())
            return (loss, outputs) if return_outputs else loss

    return DeltaDPOTrainer


def _teacher_logps(teacher: str, student_tok, dataset, cfg: TrainConfig, out: str):
    """Sequence log-probs of chosen and rejected under the teacher (TRL's own tokenisation)."""
    from trl import DPOConfig, DPOTrainer

    from .models import load

    model, tok = load(teacher)
    if tok.get_vocab() != student_tok.get_vocab():
        raise DeltaTheoryError(f"daDPO teacher {teacher!r} has a different tokenizer from the "
                               "student's; daDPO needs a shared vocabulary")
    args = DPOConfig(**_common_args(cfg, out), precompute_ref_log_probs=True, beta=0.1)
    tr = DPOTrainer(model=model, ref_model=None, args=args, train_dataset=dataset,
                    processing_class=student_tok)
    ds = tr.train_dataset
    return ds["ref_chosen_logps"], ds["ref_rejected_logps"]


def train(model_spec: str, pairs, out_dir: str | Path, cfg: TrainConfig, *, model=None,
          tokenizer=None, save: bool = True):
    """Train ``model_spec`` on ``pairs`` (a datasets.Dataset); returns (model, tokenizer, log).

    The trained weights (or LoRA adapter) are saved to ``out_dir/model`` atomically; ``log`` has
    the trainer's history (loss, and for preference methods reward accuracy and margins).
    ``save=False`` keeps the weights in memory only (the ladder evaluates and discards them).
    """
    import torch

    from .models import load

    torch.manual_seed(cfg.seed)
    if model is None:
        model, tokenizer = load(model_spec)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = tempfile.mkdtemp(dir=out_dir, prefix=".trainer.")
    beta = cfg.resolved_beta
    if cfg.method == "sft":
        from trl import SFTConfig, SFTTrainer

        ds = pairs.map(lambda e: {"prompt": e["prompt"], "completion": e["chosen"]},
                       remove_columns=pairs.column_names)
        args = SFTConfig(**_common_args(cfg, work))
        trainer = SFTTrainer(model=model, args=args, train_dataset=ds,
                             processing_class=tokenizer, peft_config=_peft(cfg))
    elif cfg.method == "simpo":
        # SimPO lives in trl.experimental (TRL 1.16), which warns on import; we use it knowingly
        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
        from trl.experimental.cpo import CPOConfig, CPOTrainer

        args = CPOConfig(**_common_args(cfg, work), loss_type="simpo", cpo_alpha=0.0, beta=beta,
                         simpo_gamma=cfg.simpo_gamma)
        trainer = CPOTrainer(model=model, args=args, train_dataset=pairs,
                             processing_class=tokenizer, peft_config=_peft(cfg))
    elif cfg.method in ("dadpo", "weighted"):
        from trl import DPOConfig

        ds = pairs
        if cfg.method == "dadpo":
            tc, tr = _teacher_logps(cfg.teacher, tokenizer, pairs, cfg, work)
            ds = ds.add_column("teacher_chosen_logps", list(map(float, tc)))
            ds = ds.add_column("teacher_rejected_logps", list(map(float, tr)))
        else:
            ds = _with_weights(ds, cfg)
        args = DPOConfig(**_common_args(cfg, work), loss_type=[_TRL_LOSS[cfg.method]], beta=beta,
                         precompute_ref_log_probs=True, remove_unused_columns=False)
        trainer = _weighted_trainer_class()(model=model, args=args, train_dataset=ds,
                                            processing_class=tokenizer, peft_config=_peft(cfg),
                                            method=cfg.method, beta1=cfg.beta1, beta2=cfg.beta2)
    else:
        from trl import DPOConfig, DPOTrainer

        args = DPOConfig(**_common_args(cfg, work), loss_type=[_TRL_LOSS[cfg.method]], beta=beta)
        trainer = DPOTrainer(model=model, args=args, train_dataset=pairs,
                             processing_class=tokenizer, peft_config=_peft(cfg))
    trainer.train()
    trained = trainer.model
    if cfg.lora and hasattr(trained, "merge_and_unload"):
        trained = trained.merge_and_unload()
    log = list(trainer.state.log_history)
    if trainer.is_world_process_zero():  # under `accelerate launch` only rank 0 writes
        if save:
            _save(trained, tokenizer, out_dir / "model")
        (out_dir / "train_log.json").write_text(json.dumps(
            {"config": dataclasses.asdict(cfg), "beta": beta, "history": log}, indent=1))
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return trained, tokenizer, log


def _with_weights(ds, cfg: TrainConfig):
    import torch

    from .losses import weights_from_gap

    if cfg.weight_column:
        if cfg.weight_column not in ds.column_names:
            raise DeltaTheoryError(f"weight column {cfg.weight_column!r} is missing; the pairs "
                                   f"have {', '.join(ds.column_names)}")
        w = torch.tensor(ds[cfg.weight_column], dtype=torch.float32)
        if bool((w < 0).any()) or not float(w.mean()) > 0:
            raise DeltaTheoryError(f"weight column {cfg.weight_column!r} must be non-negative "
                                   "with a positive mean")
        w = w / w.mean()
    elif "chosen_utility" in ds.column_names:
        gap = torch.tensor(ds["chosen_utility"]) - torch.tensor(ds["rejected_utility"])
        w = weights_from_gap(gap, cfg.weight_mapping)
    else:
        raise DeltaTheoryError("method weighted needs train.weight_column or pairs with utilities")
    return ds.add_column("weight", [float(x) for x in w])


def _save(model, tokenizer, target: Path) -> None:
    from deltatheory._io import atomic_dir

    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
