"""Training: TRL's DPO family, SimPO (CPOTrainer), daDPO and weighted DPO, and an SFT baseline.

Where TRL has the loss it is used as is: ``dpo`` (sigmoid), ``dpo-norm`` (sigmoid_norm, the
paper's length-normalised DPO, β = 5), ``ipo``, ``simpo`` (CPOTrainer, loss_type="simpo",
cpo_alpha=0). ``dadpo`` and ``weighted`` subclass DPOTrainer through its public surface only
(the public ``compute_loss``, TRL's own collator extended to carry per-pair columns, TRL's
precomputed reference log-probs) and replace the loss (:mod:`deltatheory.llm.losses`); options
the replacement would ignore are refused. The override is tested against TRL's own loss for the
plain case (all weights 1, β₂ = 0: identical loss and gradients) and pinned to the TRL versions
it was tested with (pyproject.toml). ``sft`` trains with SFTTrainer on the chosen answers.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from deltatheory._io import write_json
from deltatheory.errors import BadData, DeltaTheoryError

__all__ = ["METHODS", "TrainConfig", "train", "reward_stats", "schedule_stats",
           "refuse_ignored_options"]

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
    """Training settings: the one source of training defaults (the YAML studies and the
    ``llm train`` options read theirs from here). ``beta`` None means the method's default
    (:data:`METHODS`); for daDPO it is β₁, the weight of the reference term."""

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
    beta2: float = 0.1  # daDPO: weight β₂ of the teacher term (0 gives DPO); β₁ is ``beta``
    teacher: str | None = None  # daDPO: teacher model spec (same tokenizer as the student)
    weight_column: str | None = None  # weighted: a per-pair column; else the utility gap
    weight_mapping: str = "linear"
    simpo_gamma: float = 0.5
    max_length: int = 512
    # warm-up: a number < 1 is a share of the steps, rounded up (transformers' rule); >= 1 a
    # count. The linear warm-up starts at learning rate 0, so the first warm-up step updates
    # nothing: 0.03 of 12 steps is one warm-up step and 11 updates. Every arm records the
    # learning rate of each step and the updates it made (:func:`schedule_stats`).
    warmup: float = 0.03
    scheduler: str = "cosine"
    seed: int = 0
    # which pairs a subsampled run draws and the order they come in (None: ``seed``); ``seed``
    # alone then drives the adapter's initialisation and dropout, so the two can vary apart
    data_seed: int | None = None
    precompute_ref: bool = False  # DPO-family: reference log-probs once, before training (SFT
    # and SimPO have no reference model: not applicable there)
    subsample: bool = False  # with max_steps: train on a seeded sample of exactly the pairs the
    # steps consume (max_steps × batch_size × grad_accum, each once), so a large pool costs
    # nothing extra (e.g. for precomputed reference log-probs)
    extra: dict = field(default_factory=dict)  # passed to the TRL config as is

    def __post_init__(self):
        if self.method not in METHODS:
            raise DeltaTheoryError(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        from .models import normalize_dtype

        self.dtype = normalize_dtype(self.dtype)
        for name in ("learning_rate", "epochs", "batch_size", "grad_accum", "max_length",
                     "lora_r"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0 or v != v:
                raise DeltaTheoryError(f"{name}={v!r} must be a positive number")
        if not (self.max_steps == -1 or (isinstance(self.max_steps, int) and self.max_steps > 0)):
            raise DeltaTheoryError(f"max_steps={self.max_steps!r} must be a positive whole number "
                                   "(or -1: the epochs decide)")
        if self.subsample and self.max_steps == -1:
            raise DeltaTheoryError("subsample=true needs max_steps (the budget it samples for); "
                                   "set max_steps or drop subsample")
        if self.data_seed is not None and (isinstance(self.data_seed, bool)
                                           or not isinstance(self.data_seed, int)
                                           or self.data_seed < 0):
            raise DeltaTheoryError(f"data_seed={self.data_seed!r} must be a whole number >= 0 "
                                   "(or absent: the seed)")
        if self.beta is not None and not (isinstance(self.beta, int | float) and self.beta > 0):
            raise DeltaTheoryError(f"beta={self.beta!r} must be a positive number")
        if not (isinstance(self.beta2, int | float) and self.beta2 >= 0):
            raise DeltaTheoryError(f"beta2={self.beta2!r} must be a number >= 0")
        from .losses import WEIGHT_MAPPINGS

        if self.weight_mapping not in WEIGHT_MAPPINGS:
            raise DeltaTheoryError(f"weight_mapping={self.weight_mapping!r} is not one of "
                                   f"{', '.join(WEIGHT_MAPPINGS)}")
        if self.method == "dadpo" and not self.teacher:
            raise DeltaTheoryError("method dadpo needs a teacher model (train.teacher)")

    @property
    def resolved_data_seed(self) -> int:
        return self.seed if self.data_seed is None else self.data_seed

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
                seed=cfg.seed, data_seed=cfg.resolved_data_seed,
                activation_checkpointing=False,
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


# DPOConfig options that TRL's own loss honours and DeltaDPOTrainer.compute_loss does not: the
# override refuses them instead of ignoring them (value each must keep).
_REFUSED = {"loss_type": ["sigmoid"], "loss_weights": None, "ld_alpha": None,
            "f_divergence_type": "reverse_kl", "label_smoothing": 0.0, "use_weighting": False,
            "use_liger_kernel": False, "padding_free": False, "sync_ref_model": False,
            "precompute_ref_log_probs": True}


def refuse_ignored_options(args) -> None:
    """Raise a one-line error for a DPOConfig option the daDPO/weighted loss would ignore."""
    for name, keep in _REFUSED.items():
        value = getattr(args, name, keep)
        if name == "loss_weights" and value is not None and list(value) == [1.0]:
            continue
        if name == "loss_type" and not isinstance(value, str):
            value = list(value)
        if value != keep:
            raise DeltaTheoryError(
                f"option {name}={value!r} is not supported by the daDPO / weighted-DPO loss "
                f"(it would be silently ignored); leave it at {keep!r}")


def _delta_trainer_class():
    """DPOTrainer whose loss is daDPO or per-pair-weighted DPO.

    Extension through TRL's public surface only: the public ``compute_loss`` is overridden (the
    route TRL's customisation guide gives), sequence log-probs come from
    :func:`deltatheory.llm.logprobs.sequence_logps`, reference log-probs are TRL's precomputed
    columns, and the collator is TRL's own with every setting copied, extended to carry the
    per-pair columns. Options the override cannot honour are refused (:data:`_REFUSED`).
    """
    import torch
    from torch.utils.data import DataLoader
    from trl import DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    from .logprobs import sequence_logps
    from .losses import dadpo_loss, weighted_dpo_loss

    class _Collator(DataCollatorForPreference):
        def torch_call(self, examples):
            out = super().torch_call(examples)
            for k in _EXTRA:
                if k in examples[0]:
                    out[k] = torch.tensor([float(e[k]) for e in examples])
            return out

    class DeltaDPOTrainer(DPOTrainer):
        def __init__(self, *a, method: str, beta2: float = 0.0, teacher=None, **kw):
            refuse_ignored_options(kw["args"])
            self._method, self._beta2 = method, beta2
            super().__init__(*a, **kw)
            if getattr(self, "aux_loss_enabled", False):
                raise DeltaTheoryError(
                    "this model has a mixture-of-experts auxiliary loss "
                    "(router_aux_loss_coef), which the daDPO / weighted-DPO loss would ignore; "
                    "use dpo, or set train.extra: {router_aux_loss_coef: 0.0}")
            if self.accelerator.num_processes > 1:
                raise DeltaTheoryError(
                    "daDPO and weighted DPO run in one process only (their loss reads the "
                    "unwrapped model); launch them without --multi_gpu")
            base = self.data_collator
            self.data_collator = _Collator(**{f.name: getattr(base, f.name)
                                              for f in dataclasses.fields(base)})
            if method == "dadpo":
                tc, tr = self._logps_of(teacher)
                self.train_dataset = self.train_dataset.add_column(
                    "teacher_chosen_logps", tc).add_column("teacher_rejected_logps", tr)

        def _logps_of(self, other) -> tuple[list[float], list[float]]:
            """(chosen, rejected) sequence log-probs of ``other`` on the tokenised pairs, with
            the same tokens, truncation and collator as the policy sees."""
            base = DataCollatorForPreference(**{f.name: getattr(self.data_collator, f.name)
                                                for f in dataclasses.fields(
                                                    DataCollatorForPreference)})
            cols = ["prompt_ids", "chosen_ids", "rejected_ids"]
            ds = self.train_dataset.select_columns(cols)
            loader = DataLoader(ds, batch_size=self.args.per_device_train_batch_size,
                                shuffle=False, collate_fn=base)
            chosen, rejected = [], []
            device = self.accelerator.device
            other.to(device).eval()
            # the same device and autocast precision as the policy's and the reference's
            with torch.inference_mode(), self.accelerator.autocast():
                for batch in loader:
                    b = {k: v.to(device) for k, v in batch.items()}
                    lp = sequence_logps(other, b["input_ids"], b["attention_mask"],
                                        b["completion_mask"]).float().cpu()
                    c, r = lp.chunk(2)
                    chosen += c.tolist()
                    rejected += r.tolist()
            return chosen, rejected

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            mode = "train" if self.model.training else "eval"
            extra = {k: inputs.pop(k) for k in _EXTRA if k in inputs}
            with self.accelerator.autocast():
                logps = sequence_logps(model, inputs["input_ids"], inputs["attention_mask"],
                                       inputs["completion_mask"])
            pc, pr = logps.float().chunk(2, dim=0)
            rc, rr = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
            if self._method == "dadpo":
                per_pair = dadpo_loss(pc, pr, rc, rr, extra["teacher_chosen_logps"],
                                      extra["teacher_rejected_logps"], self.beta, self._beta2)
            else:
                per_pair = weighted_dpo_loss(pc, pr, rc, rr, extra["weight"], self.beta)
            loss = per_pair.mean()
            cr, rj = self.beta * (pc - rc).detach(), self.beta * (pr - rr).detach()
            m = self._metrics[mode]
            m["rewards/chosen"].append(cr.mean().item())
            m["rewards/rejected"].append(rj.mean().item())
            m["rewards/accuracies"].append((cr > rj).float().mean().item())
            m["rewards/margins"].append((cr - rj).mean().item())
            m["logps/chosen"].append(pc.detach().mean().item())
            m["logps/rejected"].append(pr.detach().mean().item())
            return (loss, {}) if return_outputs else loss

    return DeltaDPOTrainer


def train(model_spec: str, pairs, out_dir: str | Path, cfg: TrainConfig, *, model=None,
          tokenizer=None, save: bool = True, callbacks=()):
    """Train ``model_spec`` on ``pairs`` (a datasets.Dataset); returns (model, tokenizer, log).

    The trained weights (or LoRA adapter) are saved to ``out_dir/model`` atomically; ``log`` has
    the trainer's history (loss, and for preference methods reward accuracy and margins).
    ``save=False`` keeps the weights in memory only (the ladder evaluates and discards them).
    ``callbacks``: transformers ``TrainerCallback`` objects (e.g. the ladder's checkpoint
    evaluations).
    """
    import shutil

    import torch

    from .models import load

    torch.manual_seed(cfg.seed)
    if model is None:
        model, tokenizer = load(model_spec)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".trainer.*"):  # left by a process killed outright (SIGKILL)
        if not _alive(stale):
            shutil.rmtree(stale, ignore_errors=True)
    pairs = subsample(pairs, cfg)
    work = tempfile.mkdtemp(dir=out_dir, prefix=f".trainer.{os.getpid()}.")
    try:
        trainer = _trainer(cfg, model, tokenizer, pairs, work)
        counter = _step_counter()
        for cb in (*callbacks, counter):
            trainer.add_callback(cb)
        trainer.train()
        trained = trainer.model
        if cfg.lora and hasattr(trained, "merge_and_unload"):
            trained = trained.merge_and_unload()
        # the optimizer steps the trainer took, counted as they happen (not from the config)
        log = [*trainer.state.log_history, {"optimizer_steps": counter.steps}]
        if trainer.is_world_process_zero():  # under `accelerate launch` only rank 0 writes
            if save:
                _save(trained, tokenizer, out_dir / "model")
            write_json(out_dir / "train_log.json", {"config": dataclasses.asdict(cfg),
                                                    "beta": cfg.resolved_beta, "history": log})
    finally:  # a failed or interrupted training leaves no trainer folder behind
        shutil.rmtree(work, ignore_errors=True)
    return trained, tokenizer, log


def _step_counter():
    """A TrainerCallback that counts the optimizer steps actually taken."""
    from transformers import TrainerCallback

    class Counter(TrainerCallback):
        steps = 0

        def on_optimizer_step(self, args, state, control, **kw):
            self.steps += 1

    return Counter()


def schedule_stats(log: list[dict]) -> dict:
    """The optimizer steps the trainer took (counted by :func:`train`), the learning rate each
    step used (as the trainer logged it, one entry per step) and the updates: steps with a
    learning rate above 0 (a linear warm-up's first step has 0).

    >>> schedule_stats([{"loss": 1, "learning_rate": 0.0}, {"loss": 1, "learning_rate": 2e-4},
    ...                 {"optimizer_steps": 2}])
    {'optimizer_steps': 2, 'learning_rates': [0.0, 0.0002], 'updates': 1}
    """
    lrs = [float(r["learning_rate"]) for r in log if "learning_rate" in r and "loss" in r]
    steps = next((r["optimizer_steps"] for r in log if "optimizer_steps" in r), None)
    return {"optimizer_steps": steps, "learning_rates": lrs,
            "updates": sum(lr > 0 for lr in lrs)}


def _alive(work: Path) -> bool:
    """Whether the process that made a ``.trainer.PID.*`` folder still runs (a sibling rank's
    folder under ``accelerate launch`` is never swept)."""
    try:
        pid = int(work.name.split(".")[2])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _plain_pairs(pairs, tokenizer):
    """``pairs`` in TRL's standard (plain-text) form, for a tokenizer without a chat template
    (a base model): ``prompt`` the plain transcript generation and scoring use
    (:func:`deltatheory.llm.generate.render_prompt`, ``chat=False``, ending in "Answer:"),
    ``chosen`` / ``rejected`` the answer after one space. Other columns are kept; pairs already
    in plain form are returned as they are.

    TRL 1.16's DPOTrainer and SFTTrainer both append the EOS token's text to each completion,
    tokenise the prompt alone and prompt + completion as one string, with the tokenizer's
    special tokens (its BOS, as :func:`deltatheory.llm.logprobs.encode_completion` adds), and
    start the completion where the two token lists part. They train on encode_completion's ids
    plus one trailing EOS, provided no token merges across the "Answer:" | " answer" boundary
    (none does with the SmolLM2 and Gemma 3 tokenizers on this project's tasks;
    tests/test_plain_training.py checks it). The EOS is trained (its log-probability enters
    the DPO rewards; SFT learns to stop after the answer) but encode_completion does not score
    it, as lm-eval scores a continuation without EOS. SimPO's CPOTrainer (trl.experimental)
    tokenises prompt and prompt + completion without special tokens, then puts the BOS id in
    front itself (also for a tokenizer that adds none, such as SmolLM2's) and the EOS id last.
    """
    from .generate import render_prompt

    if not len(pairs) or isinstance(pairs[0]["prompt"], str):
        return pairs

    def answer(msgs, side: str) -> str:
        if not isinstance(msgs, list) or len(msgs) != 1 or msgs[0].get("role") != "assistant":
            raise BadData(f"{side} must be one assistant message to train a model without a "
                          f"chat template; found {msgs!r:.80}")
        return msgs[0]["content"]

    def plain(e):
        return {"prompt": render_prompt(tokenizer, e["prompt"], chat=False),
                "chosen": " " + answer(e["chosen"], "chosen"),
                "rejected": " " + answer(e["rejected"], "rejected")}

    return pairs.map(plain, remove_columns=["prompt", "chosen", "rejected"],
                     desc="Plain transcripts (no chat template)")


def subsample(pairs, cfg: TrainConfig):
    """The rows a run trains on: with ``cfg.subsample`` and a step budget, the first
    ``max_steps × batch_size × grad_accum`` rows of ``pairs`` shuffled by
    ``cfg.resolved_data_seed`` (``data_seed``, or the training seed when unset); else all."""
    if cfg.subsample and cfg.max_steps > 0:
        need = cfg.max_steps * cfg.batch_size * cfg.grad_accum
        if len(pairs) > need:
            return pairs.shuffle(seed=cfg.resolved_data_seed).select(range(need))
    return pairs


def _trainer(cfg: TrainConfig, model, tokenizer, pairs, work: str):
    """The TRL trainer for ``cfg.method`` (not yet trained)."""
    from .models import load

    beta = cfg.resolved_beta
    if not getattr(tokenizer, "chat_template", None):
        # a base model: TRL would apply a chat template it does not have; the plain transcript
        # it is prompted and scored with instead (the same test as encode_completion's)
        pairs = _plain_pairs(pairs, tokenizer)
    if cfg.method == "sft":
        from trl import SFTConfig, SFTTrainer

        ds = pairs.map(lambda e: {"prompt": e["prompt"], "completion": e["chosen"]},
                       remove_columns=pairs.column_names)
        args = SFTConfig(**_common_args(cfg, work))
        return SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer,
                          peft_config=_peft(cfg))
    if cfg.method == "simpo":
        # SimPO lives in trl.experimental (TRL 1.16), which warns on import; we use it knowingly
        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
        from trl.experimental.cpo import CPOConfig, CPOTrainer

        args = CPOConfig(**_common_args(cfg, work), loss_type="simpo", cpo_alpha=0.0, beta=beta,
                         simpo_gamma=cfg.simpo_gamma)
        return CPOTrainer(model=model, args=args, train_dataset=pairs,
                          processing_class=tokenizer, peft_config=_peft(cfg))
    from trl import DPOConfig

    if cfg.method in ("dadpo", "weighted"):
        teacher = None
        if cfg.method == "dadpo":
            teacher, teacher_tok = load(cfg.teacher)
            if teacher_tok.get_vocab() != tokenizer.get_vocab():
                raise DeltaTheoryError(f"daDPO teacher {cfg.teacher!r} has a different tokenizer "
                                       "from the student's; daDPO needs a shared vocabulary")
            ds = pairs
        else:
            ds = _with_weights(pairs, cfg)
        args = DPOConfig(**{"precompute_ref_log_probs": True, **_common_args(cfg, work)},
                         loss_type=["sigmoid"], beta=beta, remove_unused_columns=False)
        return _delta_trainer_class()(model=model, args=args, train_dataset=ds,
                                      processing_class=tokenizer, peft_config=_peft(cfg),
                                      method=cfg.method, beta2=cfg.beta2, teacher=teacher)
    from trl import DPOTrainer

    args = DPOConfig(**{"precompute_ref_log_probs": cfg.precompute_ref, **_common_args(cfg, work)},
                     loss_type=[_TRL_LOSS[cfg.method]], beta=beta)
    return DPOTrainer(model=model, args=args, train_dataset=pairs, processing_class=tokenizer,
                      peft_config=_peft(cfg))


def reward_stats(log: list[dict]) -> dict:
    """Reward accuracy and margin over the last quarter of training, and the last loss."""
    keys = ("rewards/accuracies", "rewards/margins")
    rows = [r for r in log if all(k in r for k in keys)]
    if not rows:
        return {}
    tail = rows[-max(1, len(rows) // 4):]
    return {"reward_accuracy": sum(r[keys[0]] for r in tail) / len(tail),
            "reward_margin": sum(r[keys[1]] for r in tail) / len(tail),
            "train_loss_last": rows[-1].get("loss")}


def _with_weights(ds, cfg: TrainConfig):
    import torch

    from .losses import weights_from_gap

    if cfg.weight_column:
        if cfg.weight_column not in ds.column_names:
            raise DeltaTheoryError(f"weight column {cfg.weight_column!r} is missing; the pairs "
                                   f"have {', '.join(ds.column_names)}")
        w = torch.tensor(ds[cfg.weight_column], dtype=torch.float32)
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or not float(w.sum()) > 0:
            bad = w[~torch.isfinite(w) | (w < 0)]
            raise BadData(
                f"weight column {cfg.weight_column!r} must hold finite weights >= 0, not all "
                f"zero; found {float(bad[0]) if len(bad) else 'all zero'}")
        w = w / w.mean()
    elif "chosen_utility" in ds.column_names:
        gap = torch.tensor(ds["chosen_utility"]) - torch.tensor(ds["rejected_utility"])
        w = weights_from_gap(gap, cfg.weight_mapping, seed=cfg.seed)
    else:
        raise DeltaTheoryError("method weighted needs train.weight_column or pairs with utilities")
    return ds.add_column("weight", [float(x) for x in w])


def _save(model, tokenizer, target: Path) -> None:
    from deltatheory._io import atomic_dir

    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
