"""The llm companion: tasks, pairs, losses and configs on plain data; training on a tiny random
model built here; and a smoke test on the real SmolLM2-135M-Instruct from PyPI."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the llm extra is part of the quickstart install")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from deltatheory.llm import losses  # noqa: E402
from deltatheory.llm.models import parse_spec  # noqa: E402
from deltatheory.llm.pairs import diagnostics, make_pairs  # noqa: E402
from deltatheory.llm.studies.experiment import load_config  # noqa: E402
from deltatheory.llm.tasks import answer_with_sections, count_bold_sections, get_task  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from deltatheory.cli import app  # noqa: E402
from deltatheory.errors import DeltaTheoryError  # noqa: E402
from deltatheory.stats import bootstrap_ci  # noqa: E402

runner = CliRunner()


# ---------------------------------------------------------------- tasks
def test_bold_sections_generator_writes_exactly_k():
    rng = np.random.default_rng(0)
    for k in range(0, 8):
        assert count_bold_sections(answer_with_sections("sleep", k, rng)) == k


def test_task_prompts_are_deterministic_and_splits_disjoint():
    t = get_task("bold-sections")
    a, b = t.prompts("train", 30, seed=1), t.prompts("train", 30, seed=1)
    assert a == b
    test = t.prompts("test", 30, seed=1)
    assert not {r["topic"] for r in a} & {r["topic"] for r in test}


def test_arithmetic_is_binary_and_verifiable():
    t = get_task("arithmetic")
    row = t.prompts("test", 1, seed=0)[0]
    assert t.binary
    assert t.score(row, f"The answer is {row['answer']}.") == 1.0
    assert t.score(row, f"{row['answer'] + 1}") == 0.0
    assert t.score(row, "no idea") == 0.0


def test_unknown_task_and_bad_jsonl(tmp_path):
    with pytest.raises(DeltaTheoryError, match="not one of"):
        get_task("chess")
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"text": "hi"}\n')
    with pytest.raises(DeltaTheoryError, match="no 'prompt'"):
        get_task(f"jsonl:{bad}")
    good = tmp_path / "q.jsonl"
    good.write_text('{"prompt": "a"}\n{"prompt": [{"role": "user", "content": "b"}]}\n')
    t = get_task(f"jsonl:{good}")
    assert t.prompts("test", 5)[0]["prompt"] == [{"role": "user", "content": "b"}]


def test_model_specs():
    assert parse_spec("m@prune-0.5").arg == 0.5
    with pytest.raises(DeltaTheoryError, match="must be in"):
        parse_spec("m@prune-1.5")
    with pytest.raises(DeltaTheoryError, match="not one of"):
        parse_spec("m@quantize-0.5")


# ---------------------------------------------------------------- pairs
def _table():
    p = [{"role": "user", "content": "q"}]
    return [{"id": "a", "prompt": p, "big": "**A**\nx\n**B**\ny", "small": "**A**\nx"},
            {"id": "b", "prompt": p, "big": "same", "small": "same"},
            {"id": "c", "prompt": p, "big": "**A**\nz", "small": "**A**\n**B**\n**C**"}]


def _bold(row, text):
    return float(count_bold_sections(text))


def test_pairs_from_columns_filters_and_controls():
    pairs = make_pairs(_table(), chosen="big", rejected="small")
    assert [p["id"] for p in pairs] == ["a", "c"]  # the identical answers are dropped
    assert pairs[0]["chosen"] == [{"role": "assistant", "content": "**A**\nx\n**B**\ny"}]
    gap = make_pairs(_table(), chosen="big", rejected="small", utility=_bold, min_gap=1)
    assert [p["id"] for p in gap] == ["a"]
    # without min_gap a pair whose chosen side scores lower (c: 1 vs 3 sections) is kept
    kept = make_pairs(_table(), chosen="big", rejected="small", utility=_bold)
    assert [p["id"] for p in kept] == ["a", "c"]
    assert kept[1]["chosen_utility"] < kept[1]["rejected_utility"]
    rev = make_pairs(_table(), chosen="big", rejected="small", control="reversed")
    assert rev[0]["chosen"] == pairs[0]["rejected"] and rev[0]["rejected"] == pairs[0]["chosen"]
    tied = make_pairs(_table(), chosen="big", rejected="small", control="tied")
    assert all(p["chosen"] == p["rejected"] for p in tied)
    shuf = make_pairs(_table(), chosen="big", rejected="small", control="shuffled", seed=3)
    assert sorted(p["rejected"][0]["content"] for p in shuf) == sorted(
        p["rejected"][0]["content"] for p in pairs)


def test_pairs_from_utility_and_dolci():
    pairs = make_pairs(_table(), utility=_bold, columns=["big", "small"])
    assert pairs[1]["chosen"][0]["content"] == "**A**\n**B**\n**C**"  # utility picks sides
    table = [{"id": i, "prompt": [], "m1": str(i), "m2": "7"} for i in range(5)]
    dolci = make_pairs(table, chosen="m1", rejected="m2",
                       utility=lambda r, t: float(t == "3"), dolci=True)
    assert [p["id"] for p in dolci] == [3]


def test_pairs_bad_input():
    with pytest.raises(DeltaTheoryError, match="column 'huge' is missing"):
        make_pairs(_table(), chosen="huge", rejected="small")
    with pytest.raises(DeltaTheoryError, match="no pairs left"):
        make_pairs(_table()[1:2], chosen="big", rejected="small")
    with pytest.raises(DeltaTheoryError, match="control"):
        make_pairs(_table(), chosen="big", rejected="small", control="mixed")


def test_pair_diagnostics():
    d = diagnostics(make_pairs(_table(), chosen="big", rejected="small", utility=_bold))
    assert d["pairs"] == 2 and d["identical_rate"] == 0.0
    assert d["mean_utility_gap"] == pytest.approx(((2 - 1) + (1 - 3)) / 2)
    assert d["chosen_longer_rate"] == 0.5
    assert 0.0 < d["token_overlap"] < 1.0
    same = diagnostics(make_pairs(_table(), chosen="big", rejected="big", utility=_bold,
                                  drop_identical=False))
    assert same["token_overlap"] == 1.0 and same["identical_rate"] == 1.0


# ---------------------------------------------------------------- losses
@pytest.fixture
def logps():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(16, generator=g) * 5 for _ in range(6)]


def test_dpo_loss_is_trl_sigmoid(logps):
    pc, pr, rc, rr, _, _ = logps
    expected = -F.logsigmoid(0.1 * ((pc - rc) - (pr - rr)))
    torch.testing.assert_close(losses.dpo_loss(pc, pr, rc, rr, 0.1), expected)


def test_dadpo_with_beta2_zero_is_dpo(logps):
    pc, pr, rc, rr, tc, tr = logps
    torch.testing.assert_close(losses.dadpo_loss(pc, pr, rc, rr, tc, tr, 0.3, 0.0),
                               losses.dpo_loss(pc, pr, rc, rr, 0.3))
    # the teacher term moves the loss when β₂ > 0
    assert not torch.allclose(losses.dadpo_loss(pc, pr, rc, rr, tc, tr, 0.3, 0.2),
                              losses.dpo_loss(pc, pr, rc, rr, 0.3))


def test_unit_weights_are_dpo(logps):
    pc, pr, rc, rr, _, _ = logps
    torch.testing.assert_close(
        losses.weighted_dpo_loss(pc, pr, rc, rr, torch.ones(16), 0.1),
        losses.dpo_loss(pc, pr, rc, rr, 0.1))
    w = losses.weights_from_gap(torch.tensor([0.0, 1.0, 2.0, 5.0]))
    assert float(w.mean()) == pytest.approx(1.0) and float(w[0]) == 0.0



def _softplus_neg(z: float) -> float:
    """−log σ(z), by hand."""
    return math.log1p(math.exp(-z))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _leaf(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def test_dadpo_with_the_reference_as_teacher_is_dpo_with_summed_beta(logps):
    """With π_te = π_ref both terms share one margin: β₁m + β₂m = (β₁ + β₂)m, loss and gradients."""
    pc, pr, rc, rr = (_leaf(x.tolist()) for x in logps[:4])
    dadpo = losses.dadpo_loss(pc, pr, rc, rr, rc, rr, 0.3, 0.2)
    dpo = losses.dpo_loss(pc, pr, rc, rr, 0.5)
    torch.testing.assert_close(dadpo, dpo, rtol=1e-12, atol=1e-12)
    inputs = (pc, pr, rc, rr)  # the teacher is rc/rr itself, so these gradients include its term
    for g_dadpo, g_dpo in zip(torch.autograd.grad(dadpo.sum(), inputs),
                              torch.autograd.grad(dpo.sum(), inputs), strict=True):
        torch.testing.assert_close(g_dadpo, g_dpo, rtol=1e-12, atol=1e-12)
    # and it is not DPO with β₁ alone: the teacher term counts
    assert not torch.allclose(dadpo, losses.dpo_loss(pc, pr, rc, rr, 0.3))


def test_dadpo_matches_a_hand_computation_with_a_distinct_teacher():
    b1, b2 = 0.5, 0.25
    pc, pr = _leaf([-10.0, -5.0]), _leaf([-12.0, -4.0])
    rc, rr = _leaf([-11.0, -6.0]), _leaf([-11.5, -3.0])
    tc, tr = _leaf([-9.0, -7.0]), _leaf([-13.0, -4.5])
    # pair 1: Δ_ref(c) − Δ_ref(r) = 1 − (−0.5) = 1.5;  Δ_te(c) − Δ_te(r) = −1 − 1 = −2
    #         z = 0.5·1.5 + 0.25·(−2) = 0.25
    # pair 2: Δ_ref: 1 − (−1) = 2;  Δ_te: 2 − 0.5 = 1.5;  z = 0.5·2 + 0.25·1.5 = 1.375
    z = [0.25, 1.375]
    loss = losses.dadpo_loss(pc, pr, rc, rr, tc, tr, b1, b2)
    want = torch.tensor([_softplus_neg(v) for v in z], dtype=torch.float64)
    torch.testing.assert_close(loss, want, rtol=1e-12, atol=1e-12)
    # ∂ℓ/∂z = −σ(−z); z has +(β₁+β₂) on pc, −(β₁+β₂) on pr, −β₂ on tc, +β₂ on tr
    s = torch.tensor([_sigmoid(-v) for v in z], dtype=torch.float64)
    grads = torch.autograd.grad(loss.sum(), (pc, pr, tc, tr))
    for g, coef in zip(grads, (-(b1 + b2), b1 + b2, b2, -b2), strict=True):
        torch.testing.assert_close(g, coef * s, rtol=1e-12, atol=1e-12)


def test_uneven_weights_give_the_weighted_mean_of_dpo_losses():
    """Weights 0.5, 1.5, 3, 0 normalised to mean 1 (as training does); the batch mean of the
    weighted per-pair losses is then Σ w ℓ / Σ w, and the zero-weight pair has no gradient."""
    # weights_from_gap (and a weight column in training) divide by the mean, 1.25; in float32
    w32 = losses.weights_from_gap(torch.tensor([0.5, 1.5, 3.0, 0.0]))
    torch.testing.assert_close(w32, torch.tensor([0.4, 1.2, 2.4, 0.0]))
    assert float(w32[3]) == 0.0
    w = torch.tensor([0.4, 1.2, 2.4, 0.0], dtype=torch.float64)  # the same, exact in float64
    beta = 0.5
    pc, pr = _leaf([-3.0, -7.0, -2.0, -10.0]), _leaf([-5.0, -6.0, -4.0, -1.0])
    rc, rr = [-4.0, -6.5, -3.0, -9.0], [-4.0, -6.0, -4.5, -2.0]
    rc, rr = torch.tensor(rc, dtype=torch.float64), torch.tensor(rr, dtype=torch.float64)
    # margins (pc − rc) − (pr − rr): 1 − (−1) = 2, −0.5 − 0 = −0.5, 1 − 0.5 = 0.5, −1 − 1 = −2
    bm = [beta * m for m in (2.0, -0.5, 0.5, -2.0)]
    raw = [0.5, 1.5, 3.0, 0.0]
    want = sum(r * _softplus_neg(z) for r, z in zip(raw, bm, strict=True)) / sum(raw)
    loss = losses.weighted_dpo_loss(pc, pr, rc, rr, w, beta).mean()  # as the trainer reduces
    assert loss.item() == pytest.approx(want, rel=1e-12)
    # the zero-weight pair has the largest loss, so dropping the weights would show
    assert losses.dpo_loss(pc, pr, rc, rr, beta).mean().item() > want + 0.1
    g_pc, g_pr = torch.autograd.grad(loss, (pc, pr))
    assert float(g_pc[3]) == 0.0 and float(g_pr[3]) == 0.0
    # ∂/∂pc_i of (1/4) Σ w ℓ = −w_i β σ(−βm_i) / 4 (the other pairs do get their gradient)
    want_g = torch.tensor([-wi * beta * _sigmoid(-z) / 4 for wi, z in zip(w.tolist(), bm,
                                                                            strict=True)],
                          dtype=torch.float64)
    torch.testing.assert_close(g_pc, want_g, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_pr, -want_g, rtol=1e-12, atol=1e-12)

def test_bootstrap_ci_covers_the_mean():
    x = np.random.default_rng(0).normal(3.0, 1.0, size=400)
    lo, hi = bootstrap_ci(x, 2000, 0)
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert lo < x.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)


# ---------------------------------------------------------------- configs
def _yaml(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_config_unknown_keys_are_errors(tmp_path):
    with pytest.raises(DeltaTheoryError, match="config key 'epochz'"):
        load_config(_yaml(tmp_path, "epochz: 3\n"))
    with pytest.raises(DeltaTheoryError, match=r"config key generation\.'topk'"):
        load_config(_yaml(tmp_path, "generation: {topk: 3}\n"))
    with pytest.raises(DeltaTheoryError, match=r"train\.'lr'"):
        load_config(_yaml(tmp_path, "train: {lr: 0.1}\n"))
    with pytest.raises(DeltaTheoryError, match="method 'ppo'"):
        load_config(_yaml(tmp_path, "arms: [{name: a, method: ppo, pairs: {chosen: x, "
                                    "rejected: y}}]\n"))
    with pytest.raises(DeltaTheoryError, match="needs a teacher"):
        load_config(_yaml(tmp_path, "arms: [{name: a, method: dadpo, pairs: {chosen: x, "
                                    "rejected: y}}]\n"))


def test_replication_config_resolves():
    cfg = load_config("experiments/bold_sections.yaml")
    assert [a.name for a in cfg.arms] == ["untouched", "dpo-3-over-2", "sft-3",
                                          "reversed-2-over-3", "tied-3-vs-3", "sft-9"]
    # the paper's setup: full fine-tuning, length-normalised DPO with β 5, the model's own
    # answers regrouped into sections, at least 1,000 training prompts
    t = cfg.train
    assert (t.method, t.beta, t.lora, t.dtype) == ("dpo-norm", 5.0, False, "bf16")
    assert cfg.prompts.train >= 1000
    assert all(a.pairs["synthetic"]["source"] == "own" for a in cfg.arms if a.pairs)
    quick = load_config("experiments/bold_sections.yaml", quick=True)
    assert (quick.prompts.train, quick.prompts.test) == (8, 4) and quick.train.max_steps == 2
    sweep = load_config("experiments/bold_sections_sweep.yaml")
    assert len(sweep.select) >= 4 and sweep.prompts.validation > 0
    lrs = {sweep.train_config(a).learning_rate for a in sweep.arms if a.name in sweep.select}
    assert len(lrs) == len(sweep.select)  # four different training strengths


def test_cli_bad_input_exits_2(tmp_path):
    r = runner.invoke(app, ["llm", "run", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = runner.invoke(app, ["llm", "run", str(_yaml(tmp_path, "modell: x\n"))])
    assert r.exit_code == 2 and "'modell'" in r.output
    blocker = tmp_path / "f"
    blocker.write_text("")
    r = runner.invoke(app, ["llm", "run", "experiments/bold_sections.yaml", "--quick", "--out",
                            str(blocker / "x")])
    assert r.exit_code == 2 and "cannot be written" in r.output
    r = runner.invoke(app, ["llm", "eval", "--model", "smollm2-135m-instruct", "--task", "go"])
    assert r.exit_code == 2 and "'go'" in r.output


# ---------------------------------------------------------------- a tiny random model
@pytest.mark.parametrize("method", ["dpo", "dpo-norm", "ipo", "simpo", "weighted", "dadpo", "sft"])
def test_every_method_trains_two_steps(method, tiny_dir, tiny_pairs, tmp_path):
    from deltatheory.llm.train import TrainConfig, train

    cfg = TrainConfig(method=method, max_steps=2, batch_size=2, lora=method != "sft",
                      dtype="fp32", max_length=256, teacher=tiny_dir if method == "dadpo" else None)
    model, tok, log = train(tiny_dir, tiny_pairs, tmp_path, cfg)
    losses_seen = [r["loss"] for r in log if "loss" in r]
    assert len(losses_seen) == 2 and all(np.isfinite(losses_seen))
    if method in ("dpo", "weighted", "dadpo"):
        assert any("rewards/accuracies" in r for r in log)
    assert (tmp_path / "model" / "config.json").exists()
    saved = json.loads((tmp_path / "train_log.json").read_text())
    assert saved["config"]["method"] == method and saved["beta"] == cfg.resolved_beta


def test_dadpo_teacher_with_another_tokenizer_is_refused(tiny_dir, tiny_pairs, tmp_path):
    from deltatheory.llm.train import TrainConfig, train
    from transformers import AutoTokenizer, LlamaForCausalLM

    other = tmp_path / "teacher"
    LlamaForCausalLM.from_pretrained(tiny_dir).save_pretrained(other)
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    tok.add_tokens(["<extra-token>"])
    tok.save_pretrained(other)
    cfg = TrainConfig(method="dadpo", max_steps=1, batch_size=2, dtype="fp32", teacher=str(other))
    with pytest.raises(DeltaTheoryError, match="different tokenizer"):
        train(tiny_dir, tiny_pairs, tmp_path / "run", cfg)


def test_generation_is_resumable(tiny_dir, tmp_path):
    from deltatheory.llm.generate import GenerationConfig, generate, shard_path, table

    gen = GenerationConfig(max_new_tokens=4, batch_size=2)
    rows = get_task("bold-sections").prompts("test", 3, seed=0)
    first = generate(tiny_dir, rows[:2], tmp_path, gen, progress=False)
    path = shard_path(tmp_path, tiny_dir, gen)
    with open(path, "a") as fh:
        fh.write('{"id": "torn')  # an interrupted write
    both = generate(tiny_dir, rows, tmp_path, gen, progress=False)
    assert {k: both[k] for k in first} == first  # finished rows are not regenerated
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]
    assert sorted(r["id"] for r in lines) == sorted(r["id"] for r in rows)
    tab = table(rows, tmp_path, [tiny_dir], gen)
    assert set(tab[0]) >= {"id", "prompt", tiny_dir}


# ---------------------------------------------------------------- the real model
def test_smollm2_smoke_load_generate_two_dpo_steps(tmp_path, tiny_pairs):
    from deltatheory.llm.generate import GenerationConfig, generate
    from deltatheory.llm.models import load
    from deltatheory.llm.train import TrainConfig, train

    model, tok = load("smollm2-135m-instruct")
    rows = get_task("arithmetic").prompts("test", 2, seed=0)
    ans = generate("smollm2-135m-instruct", rows, tmp_path,
                   GenerationConfig(max_new_tokens=12, batch_size=2), model=model,
                   tokenizer=tok, progress=False)
    assert all(isinstance(a, str) and a for a in ans.values())
    cfg = TrainConfig(method="dpo", max_steps=2, batch_size=2, dtype="bf16", max_length=256)
    _, _, log = train("smollm2-135m-instruct", tiny_pairs, tmp_path / "dpo", cfg, model=model,
                      tokenizer=tok)
    assert len([r for r in log if "loss" in r]) == 2


# ---------------------------------------------------------------- binary choice and the ladder
def test_arithmetic_choice_is_balanced_and_knows_the_answer():
    t = get_task("arithmetic-choice")
    rows = t.prompts("test", 400, seed=0)
    assert t.binary and rows == t.prompts("test", 400, seed=0)
    truth = np.array([r["truth"] for r in rows])
    assert abs(truth.mean() - 0.5) < 4 * 0.5 / np.sqrt(len(rows))
    for r in rows:
        right = r["candidates"][1 - r["truth"]]
        assert right.endswith(f"= {r['answer']}") and t.score(r, right) == 1.0
        assert t.score(r, r["candidates"][r["truth"]]) == 0.0


def test_choice_margins_match_unbatched_log_probs(tiny_dir):
    from deltatheory.llm.choice import choice_margins
    from deltatheory.llm.logprobs import encode_completion as _encode
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    rows = get_task("arithmetic-choice").prompts("train", 5, seed=0)
    m = choice_margins(model, tok, rows, batch_size=4, progress=False)

    def logp(prompt, answer):  # one sequence, no padding
        ids, h = _encode(tok, prompt, answer)
        x = torch.tensor([ids])
        with torch.no_grad():
            lp = torch.log_softmax(model(input_ids=x).logits[0, :-1].float(), -1)
        return float(lp[torch.arange(h - 1, len(ids) - 1), x[0, h:]].sum())

    want = [logp(r["prompt"], r["candidates"][0]) - logp(r["prompt"], r["candidates"][1])
            for r in rows]
    np.testing.assert_allclose(m, want, rtol=1e-4, atol=1e-4)
    swapped = [{**r, "candidates": r["candidates"][::-1]} for r in rows]
    np.testing.assert_allclose(choice_margins(model, tok, swapped, progress=False), -m,
                               atol=1e-4)


@pytest.mark.parametrize("task", ["arithmetic-choice", "arithmetic-multiturn"])
def test_shared_prefix_scoring_equals_scoring_each_sequence(tiny_dir, task):
    """The fast path (shared system prompt, one pass per item over its prompt and the answer
    tokens all its answers start with, LM head only on answer tokens) gives every answer's
    log-probability as scoring its sequence alone does, for prompts of different lengths
    (multi-turn) and answers of different lengths."""
    from deltatheory.llm.choice import choice_margins, shared_prefix_logps
    from deltatheory.llm.logprobs import completion_logps
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    rows = get_task(task).prompts("train", 7, seed=0)
    answers = [["= 1", "the answer is 1234567, I am sure of it", ""] for _ in rows]
    answers[3] = ["x", "yy", "a much longer answer than the others here"]
    # answers that share their first tokens (run once for all of them), one a prefix of
    # another, and identical answers
    answers[4] = ["72 + 44 = 118", "72 + 44 = 116", "72 + 44 = 11"]
    answers[5] = ["same answer", "same answer", "same answer"]
    answers[6] = ["72 + 44 = 116 because 6", "72 + 44 = 116 because 4 + 2", "72 + 44"]
    items = [(r["prompt"], a) for r, a in zip(rows, answers, strict=True)]
    fast = shared_prefix_logps(model, tok, items, batch_size=3, progress=False)
    plain = completion_logps(model, tok, [(p, a) for p, ans in items for a in ans],
                             batch_size=5, progress=False).reshape(len(rows), 3)
    assert np.abs(plain).min() > 0.5  # real log-probabilities, not zeros
    np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=1e-4)
    # one item alone: its whole prompt is the "shared" prefix, up to the last prompt token
    for i in (4, 5, 6):
        one = shared_prefix_logps(model, tok, [items[i]], batch_size=1, progress=False)
        np.testing.assert_allclose(one[0], plain[i], rtol=1e-4, atol=1e-4)
    if task == "arithmetic-choice":
        np.testing.assert_allclose(choice_margins(model, tok, rows, progress=False, fast=True),
                                   choice_margins(model, tok, rows, progress=False, fast=False),
                                   atol=1e-4)
    with pytest.raises(DeltaTheoryError, match="same number"):
        shared_prefix_logps(model, tok, [items[0], (items[1][0], ["a"])], progress=False)


def test_ladder_config_errors(tmp_path):
    from deltatheory.llm.studies.ladder import arms, load_config

    cfg = load_config()
    assert cfg.train.method == "dpo" and len(cfg.rungs) == 2 and cfg.task == "addition-choice"
    shipped = load_config(Path(__file__).parent.parent / "experiments" / "ladder.yaml")
    assert len(shipped.rungs) >= 6 and shipped.stronger and len(shipped.pairs) >= 10
    # 2 DPO seeds, not the 3 the issue asks for: the cut the 120-minute CPU budget needed
    assert len(shipped.seeds) >= 2 and shipped.checkpoints >= 4 and shipped.items.test >= 2000
    names = [a["name"] for a in arms(shipped)]
    assert len(names) == len(set(names))
    chosen = {p[0] for p in shipped.pairs}
    assert {"student", "truth-256"} <= chosen  # every kind of chosen teacher is covered
    bad = [({"rungs": []}, "at least two"),
           ({"rungs": ["smollm2-135m-instruct", "b"]}, "the student cannot also be a rung"),
           ({"train": {"method": "sft"}}, "not a pairwise preference loss"),
           ({"train": {"lr": 1}}, "train.'lr' does not exist"),
           ({"train": {"max_steps": -1, "subsample": False}},
            "train.max_steps=-1 must be a positive number"),
           ({"train": {"max_steps": -1}}, "subsample=true needs max_steps"),
           ({"checkpoints": 0}, "checkpoints=0 must be from 1"),
           ({"seeds": []}, "seeds=[] must list"),
           ({"items": {"curve": 5000}}, "cannot exceed items.test"),
           ({"items": {"test": 3000, "curve": 10}}, "has 2430 questions; asked for 3000"),
           ({"pairs": [["student", "nobody"]]}, "'nobody' is not one of the teachers"),
           ({"pairs": [["student", "student"]]}, "with itself"),
           ({"coin_flip": ["x-over-y"]}, "coin_flip names 'x-over-y'"),
           ({"sft_rejected": ["x-over-y"]}, "sft_rejected names 'x-over-y'"),
           ({"task": "arithmetic"}, "has no two candidates per item"),
           ({"depth": 3}, "'depth' does not exist")]
    for over, match in bad:
        with pytest.raises(DeltaTheoryError, match=re.escape(match)):
            load_config(overrides=over)
    f = tmp_path / "l.yaml"
    f.write_text("rungs: []\n")
    r = runner.invoke(app, ["llm", "ladder", str(f)])
    assert r.exit_code == 2 and "at least two" in r.output


def test_the_ladder_cli_runs_the_shipped_study_by_default(monkeypatch, tmp_path):
    """`deltatheory llm ladder` with no config runs experiments/ladder.yaml (a link to the
    packaged study file), quick or not."""
    import os

    from deltatheory.llm.studies import ladder

    shipped = Path(__file__).parent.parent / "experiments" / "ladder.yaml"
    assert os.path.samefile(shipped, ladder.STUDY)
    seen = []

    def fake_run(cfg, out, progress=print):
        seen.append(cfg)
        raise DeltaTheoryError("stop here")

    monkeypatch.setattr(ladder, "run", fake_run)
    for args, quick in ([], False), (["--quick"], True):
        r = runner.invoke(app, ["llm", "ladder", *args, "--out", str(tmp_path / "x")])
        assert r.exit_code == 2 and "stop here" in r.output, r.output
        assert seen[-1] == ladder.load_config(shipped, quick=quick)
    assert len(seen[0].pairs) >= 10 and seen[0] != ladder.load_config()


def test_ladder_with_a_model_that_cannot_load_leaves_no_run_folder(tmp_path):
    f = tmp_path / "l.yaml"
    f.write_text("rungs: [smollm2-135m-instruct@prune-0.3, /no/such/model/folder]\n")
    r = runner.invoke(app, ["llm", "ladder", str(f), "--out", str(tmp_path / "run")])
    assert r.exit_code == 2 and "could not be loaded" in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "run").exists()


def test_ladder_runs_end_to_end_and_resumes(tiny_dir, tmp_path):
    from deltatheory.llm.studies.ladder import PREDICTORS, load_config, run

    p2, p6 = f"{tiny_dir}@prune-0.2", f"{tiny_dir}@prune-0.6"
    cfg = load_config(overrides={
        "student": tiny_dir, "rungs": [p2, p6], "stronger": [],
        "pairs": [["student", "prune-0.6"], [p2, p6]], "coin_flip": ["prune-0.2-over-prune-0.6"],
        "sft_rejected": ["student-over-prune-0.6"], "seeds": [0, 1], "checkpoints": 2,
        "items": {"train": 32, "test": 40, "curve": 10}, "bootstrap": 200, "dtype": "float32",
        "train": {"max_steps": 2, "batch_size": 2, "dtype": "fp32"}})
    msgs = []
    s = run(cfg, tmp_path, progress=msgs.append)
    names = [a["arm"] for a in s["arms"]]
    assert names == ["student-over-prune-0.6.dpo.s0", "student-over-prune-0.6.dpo.s1",
                     "student-over-prune-0.6.sft", "student-over-prune-0.6.reversed",
                     "student-over-prune-0.6.sft-rejected",
                     "prune-0.2-over-prune-0.6.dpo.s0", "prune-0.2-over-prune-0.6.dpo.s1",
                     "prune-0.2-over-prune-0.6.sft", "prune-0.2-over-prune-0.6.reversed",
                     "prune-0.2-over-prune-0.6.coin-flip"]
    for a in s["arms"]:
        assert a["n_pairs"] > 0 and (tmp_path / "arms" / a["arm"] / "metrics.json").exists()
        assert a["observed_gain"] == pytest.approx(a["accuracy_after"] - a["accuracy_before"])
        lo, hi = a["observed_gain_ci95"]
        assert lo <= a["observed_gain"] <= hi
        assert a["budget"] == {"steps": 2, "batch_size": 2, "updates": 4}  # equal budgets
        # ... counted as the trainer took them; warm-up 0.03 of 2 steps is one step at lr 0
        assert a["optimizer_steps"] == 2 and len(a["learning_rates"]) == 2
        assert a["learning_rates"][0] == 0 and a["updates"] == 1
        # DPO arms are scored at every checkpoint; controls and SFT at the start and end
        assert [c["step"] for c in a["curve"]] == ([0, 1, 2] if a["method"] == "dpo"
                                                   and a["control"] == "none" else [0, 2])
    # seeds differ, and the seed-averaged gain is the mean of the per-item correctness
    p = next(q for q in s["pairs"] if q["pair"] == "student-over-prune-0.6")
    assert len(p["dpo_gain_per_seed"]) == 2 and "sft_gain" in p and "reversed_gain" in p
    # SFT on the rejected answers: the reversed pairs' chosen side, a model of its own
    by_arm = {a["arm"]: a for a in s["arms"]}
    rej, sft = by_arm["student-over-prune-0.6.sft-rejected"], by_arm["student-over-prune-0.6.sft"]
    assert (rej["method"], rej["control"]) == ("sft", "reversed")
    assert rej["trained_fingerprint"] != sft["trained_fingerprint"]
    assert p["sft_rejected_gain"] == rej["observed_gain"] and p["sft_gain"] == sft["observed_gain"]
    assert "sft_rejected_gain" not in next(q for q in s["pairs"] if q is not p)
    m = [json.loads((tmp_path / "arms" / f"student-over-prune-0.6.dpo.s{k}" /
                     "metrics.json").read_text()) for k in (0, 1)]
    avg = np.mean([x["correct_after"] for x in m], axis=0).mean()
    assert p["dpo_gain"] == pytest.approx(avg - m[0]["accuracy_before"])
    assert m[0]["train_config"]["seed"] == 0 and m[1]["train_config"]["seed"] == 1
    assert m[0]["trained_fingerprint"] != m[1]["trained_fingerprint"]  # seeds really differ
    # the curve's last point is the final evaluation on the curve items (the first test items)
    assert m[0]["curve"][-1]["accuracy"] == pytest.approx(np.mean(m[0]["correct_after"][:10]))
    for q in s["pairs"]:
        assert {"implicit_margin", "ches", "accuracy_gap", "chosen_accuracy"} <= set(q)
    assert set(s["spearman"]) == set(PREDICTORS)
    pc = (tmp_path / "predictions.csv").read_text().splitlines()
    assert pc[0].split(",")[:3] == ["id", "truth", "student"] and len(pc) == 41
    for f in ("ladder.json", "ladder.md", "ladder.png", "config.json", "predictors.json"):
        assert (tmp_path / f).stat().st_size > 0
    assert not list(tmp_path.glob("arms/*/model")), "the ladder keeps trained weights in memory"
    # the seed-averaged DPO gain: a CI over seeds and items, and one over items given the seeds
    from deltatheory.stats import paired_diff_ci, seeds_items_ci
    rows = [line.split(",") for line in pc[1:]]
    before = np.array([float(r[1] == r[2]) for r in rows])  # the student right, per item
    assert before.mean() == pytest.approx(m[0]["accuracy_before"])
    runs = [x["correct_after"] for x in m]
    assert p["dpo_gain_ci95"] == seeds_items_ci(before, runs)
    assert p["dpo_gain_items_ci95"] == paired_diff_ci(before, np.mean(runs, axis=0),
                                                      cfg.bootstrap, cfg.seed)
    msgs.clear()
    again = run(cfg, tmp_path, progress=msgs.append)
    assert sum("done earlier" in m for m in msgs) == len(names)
    assert again["arms"] == s["arms"] and again["pairs"] == s["pairs"]
    assert not any("student's scores" in m for m in msgs)  # the predictors came from the cache
    # a kill loses at most the arm in flight: with an arm and a pair's training-free scores
    # lost, the resumed run redoes that arm and the training-free scores (one pass over every
    # pair set's sequences) and writes what the uninterrupted run wrote
    import shutil
    shutil.rmtree(tmp_path / "arms" / "prune-0.2-over-prune-0.6.dpo.s1")
    full = json.loads((tmp_path / "predictors.json").read_text())
    (tmp_path / "predictors.json").write_text(json.dumps(
        {k: v for k, v in full.items() if k != "prune-0.2-over-prune-0.6"}))
    msgs.clear()
    resumed = run(cfg, tmp_path, progress=msgs.append)
    assert sum("done earlier" in m for m in msgs) == len(names) - 1
    assert sum("student's scores" in m for m in msgs) == 1
    def strip(arms):  # noqa: E306 - an arm's wall time is the one thing a redo may change
        return [{k: v for k, v in a.items() if k != "seconds"} for a in arms]
    assert strip(resumed["arms"]) == strip(s["arms"]) and resumed["pairs"] == s["pairs"]
    assert json.loads((tmp_path / "predictors.json").read_text()) == full


def test_the_curve_scores_a_checkpoint_as_the_final_evaluation_scores_the_trained_model(
        tiny_dir, tiny_pairs, tmp_path):
    """The checkpoint curve's model at the last step, scored by the callback (copy, LoRA merged,
    bf16), gives exactly the margins the arm's final evaluation gives the model train() returns
    (same items, same batches): a curve point and an arm's result are one measurement."""
    from deltatheory.llm.choice import choice_margins
    from deltatheory.llm.config import merge
    from deltatheory.llm.models import load, to_dtype
    from deltatheory.llm.studies.ladder import _Curve, load_config
    from deltatheory.llm.tasks import get_task
    from deltatheory.llm.train import train

    rows = get_task("addition-choice").prompts("test", 12, 0)
    tcfg = merge(load_config().train, {"max_steps": 2, "batch_size": 2, "lora": True,
                                       "dtype": "bf16"})
    model, tok = load(tiny_dir)
    seen = []

    class Recording(_Curve):
        def margins(self, model):
            seen.append(super().margins(model))
            return seen[-1]

    cb = Recording([1, 2], rows, tok, "bfloat16", 5)
    model, tok, _ = train(tiny_dir, tiny_pairs, tmp_path, tcfg, model=model, tokenizer=tok,
                          save=False, callbacks=[cb()])
    final = choice_margins(to_dtype(model, "bfloat16"), tok, rows, batch_size=5, progress=False)
    assert [q["step"] for q in cb.points] == [1, 2] and len(seen) == 2
    np.testing.assert_array_equal(seen[-1], final)
    assert not np.array_equal(seen[0], final)  # the steps differ: a stale copy would not


def test_pair_predictors_are_the_implicit_margin_and_ches(monkeypatch):
    """CHES (Razin et al.): ⟨h_c, h_r⟩ − ‖h_c‖² on summed hidden states; the implicit-reward
    margin: mean of log p_c / n_c − log p_r / n_r. Checked on numbers worked by hand."""
    import deltatheory.llm.logprobs as lp_mod
    from deltatheory.llm.studies.ladder import pair_predictors

    hidden = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 2.0], [0.0, 1.0]])  # c1, r1, c2, r2
    asked = []
    monkeypatch.setattr(lp_mod, "completion_hidden", lambda m, t, items, **kw: (
        asked.extend(a for _, a in items) or np.array([-2.0, -4.0, -6.0, -3.0]),
        np.array([1.0, 2.0, 2.0, 3.0]), hidden))
    pairs = [{"prompt": [], "chosen": [{"content": f"c{i}"}], "rejected": [{"content": f"r{i}"}]}
             for i in (1, 2)]
    got = pair_predictors(None, None, pairs)
    assert asked == ["c1", "r1", "c2", "r2"]
    # pair 1: <(1,0),(3,0)> − 1 = 2; pair 2: <(2,2),(0,1)> − 8 = −6 → mean −2
    assert got["ches"] == pytest.approx(-2.0)
    # length-normalised: pair 1 <(1,0),(1.5,0)> − 1 = 0.5; pair 2 <(1,1),(0,1/3)> − 2 = −5/3
    assert got["ln_ches"] == pytest.approx((0.5 - 5 / 3) / 2)
    # margins: pair 1 −2/1 − (−4/2) = 0; pair 2 −6/2 − (−3/3) = −2 → mean −1
    assert got["implicit_margin"] == pytest.approx(-1.0)
    assert got["logp_margin"] == pytest.approx(((-2 + 4) + (-6 + 3)) / 2)


def test_completion_hidden_is_one_pass_of_completion_logps_and_the_decoder(tiny_dir):
    """completion_hidden's log-probabilities are completion_logps' (same batches: exactly);
    its hidden states are the decoder's summed over the positions predicting the answer."""
    from deltatheory.llm.logprobs import completion_hidden, completion_logps, encode_completion
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    rows = get_task("arithmetic-choice").prompts("train", 5, seed=0)
    items = [(r["prompt"], c) for r in rows for c in r["candidates"]]
    calls = []
    hook = model.get_decoder().register_forward_hook(lambda *a: calls.append(1))
    lp, n, h = completion_hidden(model, tok, items, batch_size=4)
    hook.remove()
    assert len(calls) == 3                  # one decoder pass per batch of 4 (10 sequences)
    np.testing.assert_array_equal(lp, completion_logps(model, tok, items, batch_size=4,
                                                       progress=False))
    ids, k = encode_completion(tok, *items[3])
    with torch.no_grad():
        hid = model.get_decoder()(input_ids=torch.tensor([ids])).last_hidden_state[0]
    assert n[3] == len(ids) - k
    np.testing.assert_allclose(h[3], hid[k - 1:len(ids) - 1].sum(0).numpy(), rtol=1e-4,
                               atol=1e-4)


def test_pair_predictors_over_a_shared_table_equal_each_set_alone(tiny_dir):
    """The ladder scores every distinct sequence of all its pair sets once (answer_table);
    each set's predictors are those of scoring the set alone (float tolerance: other batches),
    and a sequence two sets share is scored once."""
    import deltatheory.llm.logprobs as lp_mod
    from deltatheory.llm.studies.ladder import answer_table, disagreement_pairs, pair_predictors
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    rows = get_task("addition-choice").prompts("train", 12, 0)
    truth = np.array([r["truth"] for r in rows])
    rng = np.random.default_rng(0)
    sets = [disagreement_pairs(rows, truth, 1 - truth, 0),
            disagreement_pairs(rows, truth, np.where(rng.random(12) < 0.5, truth, 1 - truth), 0)]
    seen = []
    real = lp_mod.completion_hidden
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lp_mod, "completion_hidden",
                   lambda m, t, items, **kw: seen.append(len(items)) or real(m, t, items, **kw))
        table = answer_table(model, tok, sets)
    assert seen == [2 * len(rows)]          # set 2's items are all in set 1: scored once
    for pairs in sets:
        alone, shared = pair_predictors(model, tok, pairs), \
            pair_predictors(model, tok, pairs, table=table)
        assert shared.keys() == alone.keys()
        for key in alone:
            assert shared[key] == pytest.approx(alone[key], rel=1e-4, abs=1e-4), key


def test_coin_flip_and_reversed_pairs():
    from deltatheory.llm.studies.ladder import disagreement_pairs

    rows = get_task("addition-choice").prompts("train", 200, 0)
    c = np.array([r["truth"] for r in rows])   # always right
    r = 1 - c                                  # always wrong: every item disagrees
    plain = disagreement_pairs(rows, c, r, 0)
    rev = disagreement_pairs(rows, c, r, 0, control="reversed")
    flip = disagreement_pairs(rows, c, r, 0, control="coin-flip")
    right = {x["id"]: x["candidates"][1 - x["truth"]] for x in rows}
    share = [np.mean([p["chosen"][0]["content"] == right[p["id"]] for p in ps])
             for ps in (plain, rev, flip)]
    assert share[0] == 1.0 and share[1] == 0.0
    assert abs(share[2] - 0.5) < 3 * np.sqrt(0.25 / 200)  # a fair coin, within 3 SE
    assert flip == disagreement_pairs(rows, c, r, 0, control="coin-flip")  # seeded


def test_addition_choice_splits_never_share_a_question():
    t = get_task("addition-choice")
    q = {s: {r["prompt"][0]["content"] for r in t.prompts(s, n, 0)}
         for s, n in (("train", 4860), ("test", 2430), ("validation", 810))}
    assert len(q["train"]) == 4860 and len(q["test"]) == 2430 and len(q["validation"]) == 810
    assert not (q["train"] & q["test"] or q["train"] & q["validation"]
                or q["test"] & q["validation"])
    with pytest.raises(DeltaTheoryError, match="has 2430 questions; asked for 2431"):
        t.prompts("test", 2431, 0)


def test_spearman_ci_and_paired_diff():
    from deltatheory.stats import paired_diff_ci, spearman_ci

    r = spearman_ci([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5], n=500)
    assert r.rho == pytest.approx(0.8286, abs=1e-4) and r.ci95[0] <= r.rho <= r.ci95[1]
    # with few points some resamples are constant (no ρ): they are dropped, not a nan interval
    r = spearman_ci([1, 2, 3], [1, 3, 2], n=500)
    assert r.degenerate > 0 and all(np.isfinite(r.ci95))
    # too few points: no ρ, a reason instead of NaN
    r = spearman_ci([1, 2], [2, 1], n=500)
    assert r.rho is None and "at least 3" in r.why
    lo, hi = paired_diff_ci(np.zeros(50), np.r_[np.ones(10), np.zeros(40)], n=500)
    assert lo <= 0.2 <= hi and lo > 0


def test_cli_pairs_then_train(tiny_dir, tmp_path):
    r = runner.invoke(app, ["llm", "pairs", "--synthetic", "3,1", "--n", "4", "--out",
                            str(tmp_path / "p"), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["pairs"] == 4 and d["mean_utility_gap"] == 2.0
    assert json.loads((tmp_path / "p" / "pairs.json").read_text())["spec"] == {
        "synthetic": {"chosen": 3, "rejected": 1}}
    r = runner.invoke(app, ["llm", "train", "--pairs", str(tmp_path / "p" / "pairs"), "--model",
                            tiny_dir, "--max-steps", "1", "--batch-size", "2", "--dtype", "fp32",
                            "--max-length", "256", "--out", str(tmp_path / "t"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["pairs"] == 4
    assert (tmp_path / "t" / "model" / "config.json").exists()


def test_cli_pairs_and_train_bad_input(tmp_path):
    for args, match in [
        (["--chosen", "a", "--utility", "a,b"], "exactly one of"),
        (["--chosen", "a"], "exactly one of"),
        (["--synthetic", "3"], "two whole numbers"),
        (["--synthetic", "3,2", "--control", "upside-down"], "upside-down"),
    ]:
        r = runner.invoke(app, ["llm", "pairs", *args, "--out", str(tmp_path / "p")])
        assert r.exit_code == 2 and match in r.output, (args, r.output)
    r = runner.invoke(app, ["llm", "train", "--pairs", str(tmp_path / "none")])
    assert r.exit_code == 2 and "not a saved pairs dataset" in r.output
    runner.invoke(app, ["llm", "pairs", "--synthetic", "3,2", "--n", "2", "--out",
                        str(tmp_path / "ok")])
    r = runner.invoke(app, ["llm", "train", "--pairs", str(tmp_path / "ok" / "pairs"),
                            "--method", "kto"])
    assert r.exit_code == 2 and "'kto' is not one of" in r.output


def test_cli_eval_scores_a_choice_task_by_log_prob_as_the_studies_do(tiny_dir, tmp_path,
                                                                       monkeypatch):
    """``llm eval`` on a choice task takes the studies' path (choice_answers): the same answers,
    so the same accuracy and CI, and it generates nothing."""
    import deltatheory.llm.generate as generation
    from deltatheory.llm.choice import choice_answers

    task, n = get_task("arithmetic-choice"), 12
    rows = task.prompts("test", n, seed=0)
    ref = choice_answers(tiny_dir, rows, tmp_path / "ref", progress=False)  # as the studies call
    scores = [task.score(r, ref[r["id"]]) for r in rows]

    def no_generation(*a, **k):
        raise AssertionError("llm eval generated answers on a choice task")

    monkeypatch.setattr(generation, "generate", no_generation)
    out = tmp_path / "eval"
    r = runner.invoke(app, ["llm", "eval", "--model", tiny_dir, "--task", "arithmetic-choice",
                            "--n", str(n), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["scoring"] == "log-prob choice"
    assert got["mean"] == sum(scores) / n and got["ci95"] == bootstrap_ci(scores, 2000, 0)
    assert json.loads((out / "eval.json").read_text()) == got
    saved = list((out / "responses").glob("*.choice.*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text()) == ref  # the very same answers
    r = runner.invoke(app, ["llm", "eval", "--model", tiny_dir, "--task", "arithmetic-choice",
                            "--n", str(n), "--out", str(out)])
    assert r.exit_code == 0 and "log-prob choice" in r.stdout, r.output


def test_cli_every_command_refuses_bad_input_in_one_line(tmp_path):
    """Arguments are checked before any file is touched; undecodable, empty and absurd input
    gets one line and exit code 2 — never a traceback, never a half-written folder."""
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    utf16 = tmp_path / "u16.yaml"
    utf16.write_text("name: x\n", encoding="utf-16")
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    text_lr = tmp_path / "lr.yaml"
    text_lr.write_text("train: {learning_rate: 2e-4}\n")
    out = tmp_path / "never"
    cases = [
        (["llm", "train", "--pairs", str(tmp_path / "none"), "--method", "kto"], "'kto'"),
        (["llm", "train", "--pairs", str(tmp_path / "none"), "--learning-rate", "0"],
         "learning_rate=0"),
        (["llm", "train", "--pairs", str(tmp_path / "none"), "--dtype", "fp8"], "'fp8'"),
        (["llm", "run", str(binary), "--out", str(out)], "not UTF-8"),
        (["llm", "run", str(utf16), "--out", str(out)], "not UTF-8"),
        (["llm", "run", str(listy), "--out", str(out)], "mapping"),
        (["llm", "run", str(text_lr), "--out", str(out)], "2.0e-4"),
        (["llm", "ladder", str(binary), "--out", str(out)], "not UTF-8"),
        (["llm", "generate", "--model", "smollm2-135m-instruct", "--n", "0", "--out", str(out)],
         "--n=0"),
        (["llm", "generate", "--model", "smollm2-135m-instruct", "--max-new-tokens", "0",
          "--out", str(out)], "max_new_tokens=0"),
        (["llm", "eval", "--model", "smollm2-135m-instruct", "--bootstrap", "5", "--out",
          str(out)], "--bootstrap 5"),
        (["llm", "eval", "--model", "m@prune-7", "--out", str(out)], "must be in [0, 1)"),
        (["llm", "eval", "--model", "smollm2-135m-instruct", "--task", "arithmetic-choice",
          "--max-new-tokens", "64", "--out", str(out)], "--max-new-tokens 64"),
        (["llm", "eval", "--model", "smollm2-135m-instruct", "--task", "arithmetic-choice",
          "--batch-size", "0", "--out", str(out)], "--batch-size=0"),
        (["llm", "pairs", "--utility", "a", "--out", str(out)], "at least two models"),
        (["llm", "pairs", "--synthetic", "3,-2", "--out", str(out)], ">= 0"),
    ]
    for args, match in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert match in r.stderr and r.stderr.strip().count("\n") == 0, (args, r.stderr)
        assert "Traceback" not in r.output
    assert not out.exists(), "a refused command must not create its output folder"


def test_a_model_in_memory_scores_as_the_same_weights_loaded_from_disk(tiny_dir):
    """The ladder scores a trained model (fp32 in memory, LoRA merged) converted to bf16 and
    the untrained student loaded in bf16; the two must agree exactly when the weights are the
    same, or every observed gain carries an offset. A plain ``.to(torch.bfloat16)`` rounds the
    RoPE frequencies that ``from_pretrained`` keeps in float32, and does not agree."""
    from deltatheory.llm.choice import choice_margins
    from deltatheory.llm.models import load, to_dtype
    from peft import LoraConfig, get_peft_model

    rows = get_task("addition-choice").prompts("test", 12, seed=0)
    m16, tok = load(tiny_dir, dtype="bfloat16")
    ref = choice_margins(m16, tok, rows, batch_size=4, progress=False)
    m32, _ = load(tiny_dir)
    lora = get_peft_model(m32, LoraConfig(r=4, target_modules="all-linear",
                                           task_type="CAUSAL_LM"))  # untrained: B = 0
    got = choice_margins(to_dtype(lora.merge_and_unload(), "bf16"), tok, rows, batch_size=4,
                         progress=False)
    np.testing.assert_array_equal(got, ref)
    plain = choice_margins(load(tiny_dir)[0].to(torch.bfloat16), tok, rows, batch_size=4,
                           progress=False)
    assert not np.array_equal(plain, ref)
