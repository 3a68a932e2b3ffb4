#!/usr/bin/env bash
# The lm-eval worked example of docs/lm-eval.md, end to end (real models, CPU; 7 minutes here):
# student, chosen and rejected evaluated with lm-eval on the shipped addition-choice task,
# their sample logs fed to the bridge, kappa compared with the shipped ladder study's.
# Run from the repository root with the llm and harness extras installed.
set -euo pipefail
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-results/lm-eval-example}
N=${N:-256}
mkdir -p "$OUT"
STUDENT=${STUDENT:-smollm2-135m-instruct}
declare -A MODEL=([student]=$STUDENT [chosen]=$STUDENT@prune-0.3 [rejected]=$STUDENT@prune-0.42)

# 1. evaluate each model with lm-eval (the project's addition-choice task, float32, 256 items)
for role in student chosen rejected; do
  /usr/bin/time -f "$role: %e s wall" deltatheory llm eval --model "${MODEL[$role]}" \
      --harness lm-eval --tasks addition-choice --n "$N" --out "$OUT/$role"
done

# 2. the bridge on the three sample logs (truth: the task's target)
S="$OUT/%s/lm-eval/samples_addition-choice.jsonl"
ARGS=()
for role in student chosen rejected; do ARGS+=(--lm-eval-samples "$role=$(printf "$S" "$role")"); done
deltatheory bridge "${ARGS[@]}" --truth-from-target | tee "$OUT/bridge.txt"
deltatheory bridge "${ARGS[@]}" --truth-from-target --json > "$OUT/bridge.json"
# the same without a truth (three files = correctness): identical numbers
deltatheory bridge "${ARGS[@]}" --json > "$OUT/bridge-correctness.json"

# 3. the shipped study's labels (bf16, batch 64) on the same first N test items, and its result
python - "$OUT" "$N" <<'PY'
import csv, json, subprocess, sys
from importlib import resources
from pathlib import Path

import numpy as np

from deltatheory.bridge import read_lm_eval_samples

out, n = Path(sys.argv[1]), int(sys.argv[2])
roles = ("student", "chosen", "rejected")
files = {r: out / r / "lm-eval" / "samples_addition-choice.jsonl" for r in roles}
ours, _ = read_lm_eval_samples(files, truth_from_target=True)
data = resources.files("deltatheory").joinpath("data")
rows = list(csv.DictReader(data.joinpath("ladder_study_smollm2_predictions.csv").open()))[:n]
docs = {s["doc_id"]: s["doc"]["id"] for s in map(json.loads, files["student"].read_text().splitlines())}
assert [docs[i] for i in range(n)] == [r["id"] for r in rows], "items differ from the study's"
cols = ("truth", "student", "prune-0.3", "prune-0.42")
shipped = np.array([[int(r[c]) for c in cols] for r in rows])
subset = out / "shipped_first_items.csv"
with subset.open("w") as fh:
    fh.write("truth,student,chosen,rejected\n")
    fh.writelines(",".join(map(str, x)) + "\n" for x in shipped)
b = json.loads((out / "bridge.json").read_text())
c = json.loads((out / "bridge-correctness.json").read_text())
s = json.loads(subprocess.run(["deltatheory", "bridge", "--predictions", str(subset), "--json"],
                              check=True, capture_output=True, text=True).stdout)
study = json.loads(data.joinpath("ladder_study_smollm2.json").read_text())
pair = next(p for p in study["pairs"] if p["pair"] == "prune-0.3-over-prune-0.42")
ev = {r: json.loads((out / r / "eval.json").read_text()) for r in roles}
fmt = lambda k, ci: f"{k:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]"
print(f"\n== {n} addition-choice test items ==")
for i, r in enumerate(roles, 1):
    print(f"{r:9s} accuracy: lm-eval fp32 {ev[r]['tasks']['addition-choice']['metrics']['acc,none']['mean']:.4f}"
          f"  shipped bf16 {np.mean(shipped[:, i] == shipped[:, 0]):.4f}"
          f"  labels the same {np.mean(ours[:, i] == shipped[:, i]):.4f}"
          f"  (lm-eval {ev[r]['lm_eval_seconds']:.0f} s)")
print(f"truth labels the same: {np.mean(ours[:, 0] == shipped[:, 0]):.4f}")
print(f"kappa from lm-eval samples:         {fmt(b['kappa'], b['kappa_ci95'])}  P[kappa>0] {b['p_improve']:.3f}")
print(f"  the same, read as correctness:     {fmt(c['kappa'], c['kappa_ci95'])}  (identical: {c['kappa'] == b['kappa']})")
print(f"kappa from the shipped labels, same items: {fmt(s['kappa'], s['kappa_ci95'])}  P {s['p_improve']:.3f}")
pb = pair["bridge"]
print(f"the shipped study, {pb['n_items']} items:   {fmt(pb['kappa'], pb['kappa_ci95'])}  P {pb['p_improve']:.3f};"
      f" DPO gain {100 * pair['dpo_gain']:+.1f} points [{100 * pair['dpo_gain_ci95'][0]:+.1f},"
      f" {100 * pair['dpo_gain_ci95'][1]:+.1f}]")
PY
