import os
import shutil
import tempfile

import numpy as np
import pytest


def assert_within_se(estimate, target, se, k=4.0, what=""):
    """|estimate − target| ≤ k·SE, with the numbers printed on failure."""
    diff = abs(float(estimate) - float(target))
    assert diff <= k * float(se), (
        f"{what}: estimate {estimate:.6g} vs target {target:.6g}: |diff| = {diff:.3g} > "
        f"{k}·SE = {k * se:.3g}")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# Tests never reach a model hub: without this a hub lookup retries for ~46 s before failing.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Tests never write into the user's model cache: converted and derived checkpoints go to a
# session folder (removed at the end), or to $DELTATHEORY_TEST_CACHE when set (a dedicated,
# persistent test cache, e.g. to skip the one-off SmolLM2 conversion on a developer machine).
_USER_CACHE = os.environ.get("DELTATHEORY_CACHE")
_SESSION_CACHE = os.environ.get("DELTATHEORY_TEST_CACHE") or tempfile.mkdtemp(
    prefix="deltatheory-test-cache-")
os.environ["DELTATHEORY_CACHE"] = _SESSION_CACHE


def pytest_sessionfinish(session, exitstatus):
    if not os.environ.get("DELTATHEORY_TEST_CACHE"):
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


@pytest.fixture
def session_cache():
    return _SESSION_CACHE


# ---- the llm tests' tiny random model (the real SmolLM2 tokenizer, 2 layers, hidden 64)
@pytest.fixture(scope="session")
def smol_tokenizer():
    pytest.importorskip("torch", reason="the llm extra is part of the quickstart install")
    from deltatheory.llm.models import resolve
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve("smollm2-135m-instruct"))
    tok.pad_token = tok.pad_token or tok.eos_token
    return tok


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, smol_tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(smol_tokenizer), hidden_size=64, intermediate_size=128,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, tie_word_embeddings=True,
                      pad_token_id=smol_tokenizer.pad_token_id,
                      eos_token_id=smol_tokenizer.eos_token_id)
    d = tmp_path_factory.mktemp("tiny") / "model"
    LlamaForCausalLM(cfg).save_pretrained(d)
    smol_tokenizer.save_pretrained(d)
    return str(d)


@pytest.fixture(scope="session")
def tiny_pairs():
    """Four bold-sections pairs: 3 sections chosen over 1."""
    pytest.importorskip("datasets", reason="the llm extra is part of the quickstart install")
    from datasets import Dataset
    from deltatheory.llm.pairs import make_pairs
    from deltatheory.llm.tasks import answer_with_sections, get_task

    t = get_task("bold-sections")
    rows = t.prompts("train", 4, seed=0)
    rng = np.random.default_rng(0)
    table = [{**r, "c": answer_with_sections(r["topic"], 3, rng),
              "r": answer_with_sections(r["topic"], 1, rng)} for r in rows]
    return Dataset.from_list(make_pairs(table, chosen="c", rejected="r", utility=t.score))
