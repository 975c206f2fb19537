#!/usr/bin/env bash
# The post-hoc EMA and checkpoint-merging experiments of issue 17 on the real data (scripts/prepare-data.sh builds
# data/), the default small model (examples/train-tiny.yml), one run per seed and experiment, one at a time:
#   (a) posthoc-sweep.yml: a cosine run keeping the post-hoc pair of power EMAs (sigma_rel 0.05, 0.10) snapshotted
#       every 6 steps, with power EMAs of sigma_rel 0.04, 0.10 and 0.20 tracked directly; then `ladle posthoc-ema`
#       reconstructs a sweep of widths and scores each: held-out loss against sigma_rel, the tracked EMAs beside it.
#   (b) checkpoint-merging.yml: a constant-rate run with a checkpoint every 6 steps, merged by `ladle
#       merge-checkpoints` with every scheme over its last LAST checkpoints, against the same run with cosine decay
#       (train-tiny's schedule), equal steps.
# Every model is scored on the same 256 held-out examples (a seeded sample of data/instructions/valid.jsonl).
# summarize_sweeps.py then writes bench/averaging/results/{posthoc_sweep.tsv,posthoc_sweep.png,
# checkpoint_merging.md}: means over the seeds with 95% t-intervals.
# Usage: bench/averaging/run_averaging_sweeps.sh
# Environment: BUILD (a built ladle build tree; default build), SEEDS (default "1 2 3"), STEPS (optimizer steps per
# run; default 60), LAST (checkpoints merged in (b); default 5, the last half of the run), PARTS (which experiments,
# in this order; default "a b"), THREADS (default 0: all), NICE (default 5).
# A finished run (its final/ folder) is kept and not trained again.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ladle=$(cd "${BUILD:-$root/build}" && pwd)/ladle
out=$root/out/averaging-sweeps
results=$here/results
read -r -a seeds <<< "${SEEDS:-1 2 3}"
steps=${STEPS:-60}
last=${LAST:-5}
read -r -a parts <<< "${PARTS:-a b}"
run=(nice -n "${NICE:-5}" "$ladle" --quiet --threads "${THREADS:-0}")
valid=$out/valid-256.jsonl
scoring=(--valid "$valid" --max-examples 0 --bf16 --tokenizer "$root/data/tokenizer.model")
sigma_rels=0.02,0.03,0.04,0.05,0.07,0.1,0.15,0.2,0.25
schemes=(sma ema:0.2 wma wsm:linear wsm:cosine wsm:sqrt)
mkdir -p "$out" "$results"

bash "$root/scripts/prepare-data.sh"
/usr/bin/python3 - "$root/data/instructions/valid.jsonl" "$valid" <<'PY'
import random, sys
lines = open(sys.argv[1]).read().splitlines()
random.Random(0).shuffle(lines)
open(sys.argv[2], "w").write("\n".join(lines[:256]) + "\n")
PY

train() {  # CONFIG OUTPUT_DIR SEED [--set ...]
  local config=$1 output=$2 seed=$3
  shift 3
  [[ -f $output/final/config.json ]] && return
  local start=$SECONDS
  "${run[@]}" train --config "$here/$config" --set "output_dir=$output" --set "seed=$seed" \
    --set "model.init_seed=$seed" --set "max_steps=$steps" --set overwrite_output_dir=true "$@"
  echo "$output: $((SECONDS - start)) s"
}

posthoc_sweep() {  # SEED
  train posthoc-sweep.yml "$out/posthoc-$1" "$1"
  "${run[@]}" posthoc-ema "$out/posthoc-$1" --sigma-rel "$sigma_rels" "$out/posthoc-$1/reconstructions" \
    "${scoring[@]}" --overwrite > /dev/null
}

checkpoint_merging() {  # SEED
  local seed=$1
  train checkpoint-merging.yml "$out/constant-$seed" "$seed"
  train checkpoint-merging.yml "$out/cosine-$seed" "$seed" --set schedule.name=cosine --set checkpoint.every_steps=0
  local merges=$out/constant-$seed/merges.jsonl
  : > "$merges"
  for scheme in "${schemes[@]}"; do
    "${run[@]}" merge-checkpoints "$out/constant-$seed" --scheme "$scheme" --last "$last" \
      "$out/constant-$seed/merged-${scheme/:/-}" "${scoring[@]}" --overwrite >> "$merges"
  done
  # --scheme sma --last 1 is the last checkpoint itself: the raw weights of each run, scored the same way.
  "${run[@]}" merge-checkpoints "$out/constant-$seed" --last 1 "$out/constant-$seed/merged-last" "${scoring[@]}" \
    --overwrite | sed 's/"scheme":"sma"/"scheme":"constant, last checkpoint"/' >> "$merges"
  "${run[@]}" merge-checkpoints "$out/cosine-$seed" --last 1 "$out/cosine-$seed/merged-last" "${scoring[@]}" \
    --overwrite | sed 's/"scheme":"sma"/"scheme":"cosine decay, last checkpoint"/' >> "$merges"
}

for part in "${parts[@]}"; do
  for seed in "${seeds[@]}"; do
    case $part in
      a) posthoc_sweep "$seed" ;;
      b) checkpoint_merging "$seed" ;;
      *) echo "PARTS: expected a and/or b, got '$part'" >&2; exit 2 ;;
    esac
  done
done

/usr/bin/python3 "$here/summarize_sweeps.py" "$out" "$results" "${parts[*]}" "${seeds[@]}"
[[ ! -f $results/posthoc_sweep.gp ]] || (cd "$results" && gnuplot posthoc_sweep.gp)
