"""Results you can trust, on the llm side: cache keys, resumption after a kill at any point,
atomic outputs, and the daDPO / weighted-DPO override held to TRL's own loss."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the llm extra is part of the quickstart install")

import torch  # noqa: E402
from deltatheory.llm.tasks import get_task  # noqa: E402

from deltatheory._io import atomic_dir, recover_dir  # noqa: E402
from deltatheory.errors import DeltaTheoryError  # noqa: E402


# ---------------------------------------------------------------- the model cache
def test_tests_use_a_session_cache_not_the_users(session_cache):
    from deltatheory.llm.models import cache_dir

    assert str(cache_dir()).startswith(session_cache)
    assert not str(cache_dir()).startswith(str(Path.home() / ".cache"))


def test_derived_checkpoints_are_keyed_by_the_base_content(tiny_dir, tmp_path):
    """runA/model@prune-0.3 and runB/model@prune-0.3 must not share a cache entry."""
    from deltatheory.llm.models import resolve
    from transformers import AutoModelForCausalLM

    a, b = tmp_path / "runA" / "model", tmp_path / "runB" / "model"
    base = AutoModelForCausalLM.from_pretrained(tiny_dir)
    base.save_pretrained(a)
    with torch.no_grad():
        for p in base.parameters():
            p.mul_(-1.5)
    base.save_pretrained(b)
    for d in (a, b):
        for f in Path(tiny_dir).glob("tokenizer*"):
            (d / f.name).write_bytes(f.read_bytes())
    pa, pb = resolve(f"{a}@prune-0.3"), resolve(f"{b}@prune-0.3")
    assert pa != pb
    wa = AutoModelForCausalLM.from_pretrained(pa).state_dict()
    wb = AutoModelForCausalLM.from_pretrained(pb).state_dict()
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)
    assert resolve(f"{a}@prune-0.3") == pa  # and the same base maps to the same entry


# ---------------------------------------------------------------- atomic outputs
def test_atomic_dir_never_loses_the_old_folder(tmp_path, monkeypatch):
    import deltatheory._io as io

    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "w").write_text("old")
    real = os.replace
    calls = []

    def crash_on_second(src, dst):  # the process dies between the two renames
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(io.os, "replace", crash_on_second)
    with pytest.raises(KeyboardInterrupt), atomic_dir(target) as tmp:
        (tmp / "w").write_text("new")
    monkeypatch.setattr(io.os, "replace", real)
    assert (target / "w").read_text() == "old"  # put back by the failing call itself
    # a process killed outright between the renames leaves .model.old: the next call restores it
    os.replace(target, tmp_path / ".model.old")
    recover_dir(target)
    assert (target / "w").read_text() == "old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failed_training_leaves_no_trainer_folder(tiny_dir, tiny_pairs, tmp_path, monkeypatch):
    import deltatheory.llm.train as tr

    def boom(*a, **k):
        raise RuntimeError("killed")

    monkeypatch.setattr(tr, "_trainer", boom)
    with pytest.raises(RuntimeError):
        tr.train(tiny_dir, tiny_pairs, tmp_path, tr.TrainConfig(max_steps=1, dtype="fp32"))
    assert not list(tmp_path.glob(".trainer.*"))
    assert not (tmp_path / "train_log.json").exists()


# ---------------------------------------------------------------- the override against TRL
def _pair_of_trainers(tiny_dir, tiny_pairs, tmp_path, method, **kw):
    from deltatheory.llm.train import TrainConfig, _common_args, _delta_trainer_class
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    cfg = TrainConfig(dtype="fp32", lora=False, batch_size=4, max_length=256)
    models = [AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
              for _ in range(2)]
    ref = DPOTrainer(model=models[0], processing_class=tok, train_dataset=tiny_pairs,
                     args=DPOConfig(**_common_args(cfg, str(tmp_path / "a")),
                                    loss_type=["sigmoid"], beta=0.1,
                                    precompute_ref_log_probs=True))
    ds = tiny_pairs
    if method == "weighted":
        ds = ds.add_column("weight", [1.0] * len(ds))
    ours = _delta_trainer_class()(
        model=models[1], processing_class=tok, train_dataset=ds, method=method,
        args=DPOConfig(**_common_args(cfg, str(tmp_path / "b")), loss_type=["sigmoid"],
                       beta=0.1, precompute_ref_log_probs=True, remove_unused_columns=False),
        **kw)
    return ref, ours


@pytest.mark.parametrize("method", ["weighted", "dadpo"])
def test_override_equals_trl_loss_and_gradients(method, tiny_dir, tiny_pairs, tmp_path):
    """All weights 1 (weighted) or β₂ = 0 (daDPO): the loss and every gradient are TRL's."""
    from transformers import AutoModelForCausalLM

    kw = {}
    if method == "dadpo":
        kw = {"beta2": 0.0, "teacher": AutoModelForCausalLM.from_pretrained(tiny_dir)}
    ref, ours = _pair_of_trainers(tiny_dir, tiny_pairs, tmp_path, method, **kw)
    out = []
    for t in (ref, ours):
        t.model.train()
        batch = t.data_collator([t.train_dataset[i] for i in range(len(t.train_dataset))])
        loss = t.compute_loss(t.model, dict(batch))
        loss.backward()
        out.append((loss.detach(), {n: p.grad.clone() for n, p in t.model.named_parameters()
                                    if p.grad is not None}))
    (la, ga), (lb, gb) = out
    torch.testing.assert_close(lb, la, rtol=1e-5, atol=1e-6)
    assert set(ga) == set(gb) and ga
    for n in ga:
        torch.testing.assert_close(gb[n], ga[n], rtol=1e-4, atol=1e-6, msg=n)
    if method == "dadpo":  # the teacher's log-probs are real numbers on every pair
        tc = np.array(ours.train_dataset["teacher_chosen_logps"])
        assert len(tc) == len(tiny_pairs) and np.all(np.isfinite(tc)) and np.all(tc < 0)


def test_override_refuses_options_it_would_ignore(tiny_dir, tiny_pairs, tmp_path):
    from deltatheory.llm.train import TrainConfig, _common_args, refuse_ignored_options
    from trl import DPOConfig

    cfg = TrainConfig(dtype="fp32")
    for extra, name in [({"ld_alpha": 0.5}, "ld_alpha"), ({"use_weighting": True},
                                                         "use_weighting"),
                        ({"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 1.0]},
                         "loss_type"),
                        ({"label_smoothing": 0.1}, "label_smoothing")]:
        args = DPOConfig(**{**_common_args(cfg, str(tmp_path)), "precompute_ref_log_probs": True,
                            **extra})
        with pytest.raises(DeltaTheoryError, match=name):
            refuse_ignored_options(args)


def test_weights_that_are_negative_nan_or_all_zero_are_refused(tiny_dir, tiny_pairs, tmp_path):
    from deltatheory.llm.train import TrainConfig, train

    for w, match in [([1.0, -1.0, 1.0, 1.0], "-1.0"), ([1.0, float("nan"), 1.0, 1.0], "nan"),
                     ([0.0] * 4, "all zero")]:
        ds = tiny_pairs.add_column("w", w)
        cfg = TrainConfig(method="weighted", weight_column="w", max_steps=1, dtype="fp32")
        with pytest.raises(DeltaTheoryError, match=match):
            train(tiny_dir, ds, tmp_path / "t", cfg)
    same = tiny_pairs.map(lambda e: {"rejected_utility": e["chosen_utility"]})
    with pytest.raises(DeltaTheoryError, match="all zero"):
        train(tiny_dir, same, tmp_path / "t", TrainConfig(method="weighted", max_steps=1,
                                                          dtype="fp32"))


# ---------------------------------------------------------------- generation keys and seeds
def _die_on_second_batch(G, monkeypatch):
    """Make generation die as it writes its second batch; returns the real writer."""
    real, calls = G._append, []

    def die(path, records):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(path, records)

    monkeypatch.setattr(G, "_append", die)
    return real

def test_generation_cache_is_keyed_by_settings_and_model(tiny_dir, tmp_path):
    from deltatheory.llm.generate import GenerationConfig, generate, shard_path

    rows = get_task("bold-sections").prompts("test", 2, seed=0)
    # sampled (a random model's greedy answer is often empty): the texts show what was generated
    g4 = GenerationConfig(max_new_tokens=4, batch_size=2, temperature=1.0)
    g9 = GenerationConfig(max_new_tokens=9, batch_size=2, temperature=1.0)
    a = generate(tiny_dir, rows, tmp_path, g4, progress=False)
    b = generate(tiny_dir, rows, tmp_path, g9, progress=False)
    assert shard_path(tmp_path, tiny_dir, g4) != shard_path(tmp_path, tiny_dir, g9)
    assert a != b  # 9 new tokens are not the cached 4
    assert all(len(b[k]) > len(a[k]) for k in a), (a, b)
    cold = GenerationConfig(max_new_tokens=4, batch_size=2)
    assert shard_path(tmp_path, tiny_dir, cold) != shard_path(tmp_path, tiny_dir, g4)
    assert shard_path(tmp_path, tiny_dir, g4, seed=1) != shard_path(tmp_path, tiny_dir, g4)


def test_sampled_generation_resumes_to_the_same_answers(tiny_dir, tmp_path, monkeypatch):
    import deltatheory.llm.generate as G

    rows = get_task("bold-sections").prompts("test", 6, seed=0)
    gen = G.GenerationConfig(max_new_tokens=6, batch_size=2, temperature=1.0)
    whole = G.generate(tiny_dir, rows, tmp_path / "a", gen, seed=3, progress=False)
    real = _die_on_second_batch(G, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        G.generate(tiny_dir, rows, tmp_path / "b", gen, seed=3, progress=False)
    monkeypatch.setattr(G, "_append", real)
    assert G.generate(tiny_dir, rows, tmp_path / "b", gen, seed=3, progress=False) == whole


# ---------------------------------------------------------------- kill anywhere, rerun, same
def _experiment(tiny_dir):
    from deltatheory.llm.studies.experiment import load_config

    return load_config(overrides={
        "name": "resume", "student": tiny_dir, "task": "bold-sections", "bootstrap": 200,
        "baseline": "untouched", "ceiling": "other-model",
        "prompts": {"train": 4, "test": 4},
        "generation": {"max_new_tokens": 6, "batch_size": 2, "temperature": 1.0},
        "train": {"max_steps": 2, "batch_size": 2, "dtype": "fp32", "max_length": 256},
        "arms": [{"name": "untouched", "method": "none"},
                 {"name": "dpo", "method": "dpo",
                  "pairs": {"chosen": tiny_dir, "rejected": f"{tiny_dir}@prune-0.5"},
                  "drop_identical": False},
                 {"name": "other-model", "method": "none", "model": f"{tiny_dir}@prune-0.5"}]})


def _arms(folder: Path) -> list[dict]:
    res = json.loads((folder / "results.json").read_text())
    return [{k: v for k, v in a.items() if k != "seconds"} for a in res["arms"]]


class _Kill(BaseException):
    pass


@pytest.fixture(scope="module")
def uninterrupted(tiny_dir, tmp_path_factory):
    from deltatheory.llm.studies import experiment

    folder = tmp_path_factory.mktemp("whole")
    experiment.run(_experiment(tiny_dir), folder, progress=lambda m: None)
    return _arms(folder)


@pytest.mark.parametrize("where", ["generation", "training", "evaluation"])
def test_a_killed_run_resumes_to_the_uninterrupted_result(where, tiny_dir, tmp_path,
                                                          monkeypatch, uninterrupted):
    import deltatheory.llm.generate as G
    import deltatheory.llm.train as T
    from deltatheory.llm.studies import experiment

    cfg = _experiment(tiny_dir)
    want = uninterrupted

    real_append = G._append
    seen = []

    def append(path, records):
        seen.append(path)
        is_eval = "eval" in path.parts
        if (where == "generation" and not is_eval) or (where == "evaluation" and is_eval
                                                      and "dpo" in path.parts):
            if sum(1 for p in seen if p == path) == 2:
                raise _Kill
        real_append(path, records)

    real_save = T._save

    def save(*a, **k):  # killed inside train(), after the trainer ran, before the model is saved
        if where == "training":
            assert list((tmp_path / "killed" / "arms" / "dpo").glob(".trainer.*"))
            raise _Kill
        return real_save(*a, **k)

    monkeypatch.setattr(G, "_append", append)
    monkeypatch.setattr(T, "_save", save)
    with pytest.raises(_Kill):
        experiment.run(cfg, tmp_path / "killed", progress=lambda m: None)
    monkeypatch.setattr(G, "_append", real_append)
    monkeypatch.setattr(T, "_save", real_save)
    experiment.run(cfg, tmp_path / "killed", progress=lambda m: None)
    assert _arms(tmp_path / "killed") == want
    assert not list((tmp_path / "killed").rglob(".trainer.*"))


def test_answers_of_a_retrained_model_never_mix_with_the_old_ones(tiny_dir, tmp_path,
                                                                  monkeypatch):
    """A crash mid-evaluation, then a retraining that gives other weights: the new model's
    answers must all be its own (the cache is keyed by the weights, not by the arm's name)."""
    import deltatheory.llm.generate as G
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    old = AutoModelForCausalLM.from_pretrained(tiny_dir)
    new = AutoModelForCausalLM.from_pretrained(tiny_dir)
    with torch.no_grad():
        for p in new.parameters():
            p.add_(0.5 * torch.randn_like(p))
    rows = get_task("bold-sections").prompts("test", 4, seed=0)
    gen = G.GenerationConfig(max_new_tokens=6, batch_size=2, temperature=1.0)
    real = _die_on_second_batch(G, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        G.generate("arm", rows, tmp_path / "run", gen, model=old, tokenizer=tok, progress=False)
    monkeypatch.setattr(G, "_append", real)
    resumed = G.generate("arm", rows, tmp_path / "run", gen, model=new, tokenizer=tok,
                         progress=False)
    fresh = G.generate("arm", rows, tmp_path / "clean", gen, model=new, tokenizer=tok,
                       progress=False)
    assert resumed == fresh


def test_a_run_refuses_to_resume_after_a_model_changed(tiny_dir, tmp_path):
    """A finished arm of the old runA/model must not sit beside arms of a retrained one."""
    import shutil

    from deltatheory.llm.runs import Run

    student = tmp_path / "runA" / "model"
    shutil.copytree(tiny_dir, student)
    Run.open(tmp_path / "run", {"student": str(student)}, models=[str(student)])
    Run.open(tmp_path / "run", {"student": str(student)}, models=[str(student)])  # same: fine
    (student / "config.json").write_text((student / "config.json").read_text() + " ")
    with pytest.raises(DeltaTheoryError, match="has changed since"):
        Run.open(tmp_path / "run", {"student": str(student)}, models=[str(student)])
    # a folder started before identities were recorded resumes, and records them now
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "config.json").write_text(json.dumps({"student": str(student)}))
    Run.open(legacy, {"student": str(student)}, models=[str(student)])
    assert str(student) in json.loads((legacy / "config.json").read_text())["model_identities"]


def test_a_run_refuses_to_resume_under_other_study_code(tmp_path):
    """Arms computed by two versions of a study's code never share a run folder: a resume by
    another ``code_version``, or of a folder that recorded none, is refused."""
    from deltatheory.llm.runs import Run

    cfg = {"name": "x"}
    Run.open(tmp_path / "run", cfg, code_version="ladder-3")
    Run.open(tmp_path / "run", cfg, code_version="ladder-3")  # same code: resumes
    assert json.loads((tmp_path / "run" / "config.json").read_text())["code_version"] == "ladder-3"
    with pytest.raises(DeltaTheoryError, match="code version 'ladder-3', this is 'ladder-4'"):
        Run.open(tmp_path / "run", cfg, code_version="ladder-4")
    old = tmp_path / "old"  # written before versions were recorded
    old.mkdir()
    (old / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DeltaTheoryError, match="code version None, this is 'ladder-3'"):
        Run.open(old, cfg, code_version="ladder-3")
    Run.open(old, cfg)  # a study that records no version resumes as before


def test_dadpo_teacher_logps_match_the_reference_when_it_is_the_reference(tiny_dir, tiny_pairs,
                                                                          tmp_path):
    """Teacher = the student's own weights, bf16 autocast, LoRA: the teacher's log-probs are the
    reference's, row for row (same tokens, truncation and order)."""
    from deltatheory.llm.train import TrainConfig, _common_args, _delta_trainer_class, _peft
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    cfg = TrainConfig(method="dadpo", teacher=tiny_dir, dtype="bf16", batch_size=2,
                      max_length=256)
    t = _delta_trainer_class()(
        model=AutoModelForCausalLM.from_pretrained(tiny_dir), processing_class=tok,
        train_dataset=tiny_pairs, method="dadpo", beta2=0.1,
        teacher=AutoModelForCausalLM.from_pretrained(tiny_dir), peft_config=_peft(cfg),
        args=DPOConfig(**_common_args(cfg, str(tmp_path)), loss_type=["sigmoid"], beta=0.1,
                       precompute_ref_log_probs=True, remove_unused_columns=False))
    ds = t.train_dataset
    for side in ("chosen", "rejected"):
        np.testing.assert_allclose(ds[f"teacher_{side}_logps"], ds[f"ref_{side}_logps"],
                                   rtol=2e-3, atol=2e-3)
