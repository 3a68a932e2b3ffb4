"""Training a student without a chat template (a base model such as the base Gemma 3 270M):
the pairs go to TRL as plain transcripts, and TRL trains on the tokens the scorer
(:func:`deltatheory.llm.logprobs.encode_completion`) scores, plus the EOS TRL appends."""

import numpy as np
import pytest

pytest.importorskip("trl", reason="the llm extra is part of the quickstart install")


@pytest.fixture(scope="module")
def plain_dir(tiny_dir, tmp_path_factory):
    """The tests' tiny random model, saved with its tokenizer's chat template removed."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    assert tok.chat_template  # the SmolLM2 tokenizer has one: this copy drops it
    tok.chat_template = None
    d = tmp_path_factory.mktemp("plain") / "model"
    AutoModelForCausalLM.from_pretrained(tiny_dir).save_pretrained(d)
    tok.save_pretrained(d)
    (d / "chat_template.jinja").unlink(missing_ok=True)
    assert not getattr(AutoTokenizer.from_pretrained(d), "chat_template", None)
    return str(d)


@pytest.fixture(scope="module")
def bos_dir(plain_dir, tmp_path_factory):
    """The plain copy with a tokenizer that puts its BOS in front of every text, as the base
    Gemma 3 tokenizer does (SmolLM2's adds none): the prompt must carry exactly one BOS."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(plain_dir)
    tok.add_bos_token = True
    d = tmp_path_factory.mktemp("bos") / "model"
    AutoModelForCausalLM.from_pretrained(plain_dir).save_pretrained(d)
    tok.save_pretrained(d)
    again = AutoTokenizer.from_pretrained(d)
    assert again("2 + 2")["input_ids"][0] == again.bos_token_id
    assert not getattr(again, "chat_template", None)
    return str(d)


@pytest.fixture(scope="module")
def choice_pairs():
    """Eight addition-choice-v2 pairs in the conversational form make_pairs writes: the right
    sum chosen over the wrong one, with a per-pair weight column ``w``."""
    from datasets import Dataset
    from deltatheory.llm.tasks import get_task

    rows = get_task("addition-choice-v2").prompts("train", 8, 0)
    return Dataset.from_list([
        {"id": r["id"], "prompt": r["prompt"],
         "chosen": [{"role": "assistant", "content": r["candidates"][1 - r["truth"]]}],
         "rejected": [{"role": "assistant", "content": r["candidates"][r["truth"]]}],
         "w": float(i + 1)} for i, r in enumerate(rows)])


def _text(msgs):
    return msgs[0]["content"]


def test_plain_pairs_form(plain_dir, choice_pairs):
    from deltatheory.llm.models import load
    from deltatheory.llm.train import _plain_pairs

    from deltatheory.errors import BadData

    _, tok = load(plain_dir)
    ds = _plain_pairs(choice_pairs, tok)
    assert set(ds.column_names) == set(choice_pairs.column_names)
    row, src = ds[0], choice_pairs[0]
    assert row["prompt"] == f"Question: {src['prompt'][0]['content']}\nAnswer:"
    assert row["chosen"] == " " + _text(src["chosen"])
    assert row["rejected"] == " " + _text(src["rejected"])
    assert row["w"] == src["w"] and row["id"] == src["id"]
    assert _plain_pairs(ds, tok) is ds  # already plain: unchanged
    two = choice_pairs.map(lambda e: {"chosen": e["chosen"] * 2})
    with pytest.raises(BadData, match="one assistant message"):
        _plain_pairs(two, tok)


@pytest.mark.parametrize("method", ["dpo", "sft", "weighted"])
def test_trains_without_chat_template(method, plain_dir, choice_pairs, tmp_path):
    from deltatheory.llm.models import fingerprint, load
    from deltatheory.llm.train import TrainConfig, train

    model, tok = load(plain_dir)
    assert not getattr(tok, "chat_template", None)
    before = fingerprint(model)
    cfg = TrainConfig(method=method, max_steps=2, batch_size=2, lora=True, dtype="fp32",
                      learning_rate=1e-3, subsample=True, precompute_ref=method != "sft",
                      weight_column="w" if method == "weighted" else None)
    trained, _, log = train(plain_dir, choice_pairs, tmp_path, cfg, model=model,
                            tokenizer=tok, save=False)
    losses = [r["loss"] for r in log if "loss" in r]
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert fingerprint(trained) != before


def _expected(tok, prompt, answer):
    from deltatheory.llm.logprobs import encode_completion

    ids, h = encode_completion(tok, prompt, answer)
    return ids[:h], ids[h:]


@pytest.mark.parametrize("folder", ["plain_dir", "bos_dir"])
def test_trl_tokens_are_the_scored_tokens_plus_eos(folder, choice_pairs, tmp_path, request):
    """What TRL trains on, read from the trainers' prepared datasets: the prompt ids and
    completion ids are encode_completion's, and TRL appends one EOS to each completion; with a
    tokenizer that adds a BOS (``bos_dir``, as Gemma's does) both carry it once, in front."""
    from deltatheory.llm.models import load
    from deltatheory.llm.train import TrainConfig, _trainer

    model, tok = load(request.getfixturevalue(folder))
    eos = tok.eos_token_id
    head, _ = _expected(tok, choice_pairs[0]["prompt"], _text(choice_pairs[0]["chosen"]))
    bos = tok.bos_token_id
    if folder == "bos_dir":
        assert head[0] == bos and bos not in head[1:]
    dpo = _trainer(TrainConfig(method="dpo", max_steps=1, batch_size=2, lora=False,
                               dtype="fp32"), model, tok, choice_pairs, str(tmp_path / "dpo"))
    ds = dpo.train_dataset
    assert len(ds) == len(choice_pairs)
    for got, src in zip(ds, choice_pairs, strict=True):
        head, chosen = _expected(tok, src["prompt"], _text(src["chosen"]))
        head_r, rejected = _expected(tok, src["prompt"], _text(src["rejected"]))
        assert head == head_r
        assert got["prompt_ids"] == head
        assert got["chosen_ids"] == chosen + [eos]
        assert got["rejected_ids"] == rejected + [eos]
    assert tok.decode(ds[0]["prompt_ids"]).endswith("\nAnswer:")

    sft = _trainer(TrainConfig(method="sft", max_steps=1, batch_size=2, lora=False,
                               dtype="fp32"), model, tok, choice_pairs, str(tmp_path / "sft"))
    ds = sft.train_dataset
    assert len(ds) == len(choice_pairs)
    for got, src in zip(ds, choice_pairs, strict=True):
        head, chosen = _expected(tok, src["prompt"], _text(src["chosen"]))
        assert got["input_ids"] == head + chosen + [eos]
        # the loss is on the completion only: TRL masks the prompt's labels
        assert got["labels"] == [-100] * len(head) + chosen + [eos]


def test_chat_template_model_stays_conversational(tiny_dir, choice_pairs, tmp_path,
                                                  monkeypatch):
    """A tokenizer with a chat template: the pairs go to TRL as they are (no plain transcript)
    and TRL's tokens are the template's, which encode_completion scores as they are (the
    template's end-of-turn included, no EOS added)."""
    from deltatheory.llm import train as train_mod
    from deltatheory.llm.models import load
    from deltatheory.llm.train import TrainConfig, _trainer

    def refuse(*a, **k):
        raise AssertionError("a chat-template model must not be converted to plain pairs")

    monkeypatch.setattr(train_mod, "_plain_pairs", refuse)
    model, tok = load(tiny_dir)
    assert tok.chat_template
    dpo = _trainer(TrainConfig(method="dpo", max_steps=1, batch_size=2, lora=False,
                               dtype="fp32"), model, tok, choice_pairs, str(tmp_path / "dpo"))
    for got, src in zip(dpo.train_dataset, choice_pairs, strict=True):
        head, chosen = _expected(tok, src["prompt"], _text(src["chosen"]))
        assert got["prompt_ids"] == head and got["chosen_ids"] == chosen
    assert "<|im_start|>assistant" in tok.decode(dpo.train_dataset[0]["prompt_ids"])


def test_choice_scoring_without_chat_template(plain_dir):
    """A base model is scored on the plain transcript: the prompt ends in "Answer:", the answer
    follows after one space, and the shared-prefix scorer agrees with scoring each sequence on
    its own."""
    import numpy as np
    from deltatheory.llm.choice import choice_margins
    from deltatheory.llm.logprobs import encode_completion
    from deltatheory.llm.models import load
    from deltatheory.llm.tasks import get_task

    model, tok = load(plain_dir)
    assert not tok.chat_template
    rows = get_task("addition-choice-v2").prompts("test", 12, 0)
    ids, h = encode_completion(tok, rows[0]["prompt"], rows[0]["candidates"][0])
    assert tok.decode(ids[:h]).endswith("Answer:")
    assert tok.decode(ids[h:]) == " " + rows[0]["candidates"][0]
    fast = choice_margins(model, tok, rows, batch_size=5, progress=False)
    slow = choice_margins(model, tok, rows, batch_size=5, progress=False, fast=False)
    assert np.allclose(fast, slow, atol=1e-4) and np.ptp(fast) > 0


def test_data_seed_draws_the_subsample_and_seed_alone_does_not():
    """A subsampled run's pairs depend on ``data_seed`` (the noise study's "which pairs a seed
    draws") and not on the training seed once ``data_seed`` is set; unset, the seed draws."""
    from datasets import Dataset
    from deltatheory.llm.train import TrainConfig, subsample

    rows = Dataset.from_list([{"id": i} for i in range(200)])

    def ids(**kw):
        cfg = TrainConfig(method="dpo", max_steps=4, batch_size=4, subsample=True, **kw)
        return list(subsample(rows, cfg)["id"])

    assert len(ids(seed=0)) == 16 and len(set(ids(seed=0))) == 16
    assert ids(seed=0, data_seed=3) == ids(seed=9, data_seed=3)
    assert ids(seed=0, data_seed=3) != ids(seed=0, data_seed=4)
    assert ids(seed=5) == ids(seed=0, data_seed=5) != ids(seed=6)
    full = TrainConfig(method="dpo", max_steps=4, batch_size=4)
    assert list(subsample(rows, full)["id"]) == list(range(200))
