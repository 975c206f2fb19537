#!/usr/bin/env bash
# Training throughput: ladle's Trainer vs an idiomatic Python PyTorch loop (Debian python3-torch), the same Llama
# architecture and initial weights, the same threads, batch shape, AdamW, gradient clipping and an EMA of the
# weights updated every step (ladle: the EMA callback, one pass over the flat parameters; Python:
# torch.optim.swa_utils.AveragedModel with an EMA avg_fn). Reports training tokens/s of both and their ratio
# (target >= 1.15), the median over REPEAT alternating runs of each, measured in one invocation.
# Usage: bench/train/run_benchmark.sh [--bf16] [train_bench size options: --hidden 256 --layers 4 ...]
# Environment: BUILD (a configured and built ladle build tree; default build), WORK (scratch folder; default
# /var/tmp/ladle-train-bench), THREADS (default: every core), REPEAT (default 3), BATCH (16), SEQ (128),
# WARMUP (3), STEPS (20).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${BUILD:-$here/../../build}" && pwd)
work=${WORK:-/var/tmp/ladle-train-bench}
threads=${THREADS:-$(nproc)}
repeat=${REPEAT:-3}
batch=${BATCH:-16}
seq=${SEQ:-128}
warmup=${WARMUP:-3}
steps=${STEPS:-20}
mkdir -p "$work"

source "$here/../build-against-install.sh"
build_against_installed_ladle "$build" "$here" "$work"

bf16=()
for arg in "$@"; do [[ $arg == --bf16 ]] && bf16=(--bf16); done
common=(--batch "$batch" --seq "$seq" --warmup "$warmup" --steps "$steps" --threads "$threads")
: > "$work/results.jsonl"
for ((i = 0; i < repeat; i++)); do
  "$work/build/train_bench" --work "$work" "${common[@]}" "$@" | tee -a "$work/results.jsonl"
  /usr/bin/python3 "$here/python_loop.py" "$work/model" "${common[@]}" "${bf16[@]}" | tee -a "$work/results.jsonl"
done

/usr/bin/python3 - "$work/results.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
rate = {side: statistics.median(r["tokens_per_second"] for r in runs if r["side"] == side) for side in ("ladle", "python")}
print(f"threads {runs[0]['threads']}, bf16 {runs[0]['bf16']}: ladle {rate['ladle']:.0f} tokens/s, "
      f"python {rate['python']:.0f} tokens/s, ratio {rate['ladle'] / rate['python']:.3f} (median of "
      f"{len(runs) // 2} alternating runs each)")
PY
