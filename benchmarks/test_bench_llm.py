"""Real-model costs on this machine (SmolLM2-135M-Instruct from PyPI). Opt-in:

    python -m pytest benchmarks/test_bench_llm.py --benchmark-enable --run-llm -s \
        -p no:cacheprovider

Each benchmark records its rate in ``extra_info`` (shown with ``--benchmark-json``) and prints it.
"""

import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.llm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
STUDENT = "smollm2-135m-instruct"


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_generation_tokens_per_second(benchmark, tmp_path, dtype):
    """Greedy generation, batch 8, 128 new tokens, bold-sections prompts."""
    from deltatheory.llm.generate import GenerationConfig, generate
    from deltatheory.llm.models import load
    from deltatheory.llm.tasks import get_task

    model, tok = load(STUDENT, dtype=dtype)
    rows = get_task("bold-sections").prompts("test", 8, seed=0)
    counter = iter(range(100))

    def once():
        out = tmp_path / f"g{next(counter)}"
        ans = generate(STUDENT, rows, out, GenerationConfig(max_new_tokens=128, batch_size=8),
                       model=model, tokenizer=tok, progress=False)
        return sum(len(tok(a, add_special_tokens=False)["input_ids"]) for a in ans.values())

    tokens = benchmark.pedantic(once, rounds=2, iterations=1)
    rate = tokens / benchmark.stats.stats.mean
    benchmark.extra_info.update(tokens=tokens, tokens_per_second=rate)
    print(f"\ngeneration {dtype}: {rate:.0f} tok/s ({tokens} tokens per round)")


@pytest.mark.parametrize("task", ["bold-sections", "arithmetic-choice"])
def test_dpo_seconds_per_pair(benchmark, tmp_path, task):
    """DPO, LoRA r16, bf16 autocast, 8 pairs per step, 4 steps (bold-sections: ~200-token
    answers; arithmetic-choice: the ladder's short answers)."""
    from datasets import Dataset
    from deltatheory.llm.models import load
    from deltatheory.llm.pairs import make_pairs
    from deltatheory.llm.tasks import answer_with_sections, get_task
    from deltatheory.llm.train import TrainConfig, train

    t = get_task(task)
    rows = t.prompts("train", 32, seed=0)
    rng = np.random.default_rng(0)
    if task == "bold-sections":
        table = [{**r, "c": answer_with_sections(r["topic"], 3, rng),
                  "r": answer_with_sections(r["topic"], 2, rng)} for r in rows]
    else:
        table = [{**r, "c": r["candidates"][1 - r["truth"]], "r": r["candidates"][r["truth"]]}
                 for r in rows]
    pairs = Dataset.from_list(make_pairs(table, chosen="c", rejected="r"))
    cfg = TrainConfig(method="dpo", max_steps=4, batch_size=8, lora=True, dtype="bf16",
                      learning_rate=1e-4, max_length=384)
    model, tok = load(STUDENT)

    def once():
        train(STUDENT, pairs, tmp_path / "run", cfg, model=model, tokenizer=tok, save=False)

    benchmark.pedantic(once, rounds=1, iterations=1)
    per_pair = benchmark.stats.stats.mean / (4 * 8)
    benchmark.extra_info.update(seconds_per_pair=per_pair)
    print(f"\nDPO {task}: {per_pair:.2f} s per pair (LoRA bf16, batch 8)")


def test_choice_scoring_items_per_second(benchmark):
    """The ladder's log-probability choice: two candidates per item, bf16, batch 32."""
    from deltatheory.llm.choice import choice_margins
    from deltatheory.llm.models import load
    from deltatheory.llm.tasks import get_task

    model, tok = load(STUDENT, dtype="bfloat16")
    rows = get_task("arithmetic-choice").prompts("test", 128, seed=0)
    benchmark.pedantic(choice_margins, args=(model, tok, rows), kwargs={"progress": False},
                       rounds=2, iterations=1)
    rate = len(rows) / benchmark.stats.stats.mean
    benchmark.extra_info.update(items_per_second=rate)
    print(f"\nchoice scoring: {rate:.1f} items/s")
