"""The project's choice scorer against lm-evaluation-harness on the real model. Opt-in:

    python -m pytest benchmarks/test_bench_harness.py --benchmark-enable --run-llm -s \
        -p no:cacheprovider

Same 256 ``addition-choice`` test items, same SmolLM2-135M-Instruct in float32, the
chat-templated prompt as context: lm-eval's multiple-choice log-likelihoods must give the
project's margins (every label, the accuracy, the largest margin difference under 1e-3 nats;
measured 6e-5), and the time of each is recorded with their ratio (measured 16 s against 61 s).
"""

import os
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("lm_eval")
pytestmark = pytest.mark.llm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
STUDENT = "smollm2-135m-instruct"
N = 256


def test_lm_eval_against_the_project_scorer(benchmark, tmp_path):
    import json

    from deltatheory.llm.choice import choice_margins
    from deltatheory.llm.harness import HarnessConfig, evaluate
    from deltatheory.llm.models import load
    from deltatheory.llm.tasks import get_task

    model, tok = load(STUDENT, dtype="fp32")
    rows = get_task("addition-choice").prompts("test", N, seed=0)
    choice_margins(model, tok, rows[:8], progress=False)  # warm-up
    t0 = time.perf_counter()
    ours = choice_margins(model, tok, rows, batch_size=32, progress=False)
    project_s = time.perf_counter() - t0
    counter = iter(range(100))
    # lm-eval warmed up too (its first call imports and registers its task machinery); its time
    # is simple_evaluate's whole call: wrapping the model, building the task's dataset from the
    # local JSON, the log-likelihoods — what a user of lm-eval pays per evaluation
    evaluate(STUDENT, tmp_path / "warm-up", HarnessConfig(tasks=("addition-choice",), n=8,
                                                          batch_size=32), model=model,
             tokenizer=tok)

    def once():
        return evaluate(STUDENT, tmp_path / f"run{next(counter)}",
                        HarnessConfig(tasks=("addition-choice",), n=N, batch_size=32),
                        model=model, tokenizer=tok)

    payload = benchmark.pedantic(once, rounds=1, iterations=1)
    lm_eval_s = payload["lm_eval_seconds"]
    info = payload["tasks"]["addition-choice"]
    text = Path(info["samples"]).read_text(encoding="utf-8")
    lines = [json.loads(x) for x in text.splitlines()]
    samples = sorted(lines, key=lambda s: s["doc_id"])
    theirs = np.array([float(s["filtered_resps"][0][0]) - float(s["filtered_resps"][1][0])
                       for s in samples])
    diff = float(np.abs(theirs - ours).max())
    truth = np.array([r["truth"] for r in rows]) == 1
    acc_ours, acc_theirs = float(np.mean((ours > 0) == truth)), info["metrics"]["acc,none"]["mean"]
    same = float(np.mean((ours > 0) == (theirs > 0)))
    benchmark.extra_info.update(project_seconds=project_s, lm_eval_seconds=lm_eval_s,
                                ratio=lm_eval_s / project_s, max_margin_difference=diff,
                                accuracy=acc_ours, labels_same=same)
    print(f"\n{N} addition-choice items, float32: project {project_s:.1f} s, lm-eval "
          f"{lm_eval_s:.1f} s (x{lm_eval_s / project_s:.1f}); accuracy {acc_ours:.4f} vs "
          f"{acc_theirs:.4f}; labels the same {same:.4f}; largest margin difference "
          f"{diff:.2g} nats")
    assert diff < 1e-3 and same == 1.0 and acc_ours == pytest.approx(acc_theirs)
