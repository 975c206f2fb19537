#!/usr/bin/env bash
# The averaging experiment on the real data (scripts/prepare-data.sh builds data/): a base model trained at the
# tuned learning rate, then a HIGH-learning-rate fine-tune of it with EMA, SWA and LAWA (experiment.yml), and two
# plots: held-out loss of the raw weights and of each average over the steps, and the WiSE-FT sweep between the
# base and the fine-tuned weights (ID held-out loss against OOD shifted-set loss, one point per alpha).
# Writes out/averaging-experiment/ (runs, metrics) and bench/averaging/results/{averages_loss.png,wise_ft.png,
# averages_loss.tsv,wise_ft.md}.
# Usage: bench/averaging/run_experiment.sh
# Environment: BUILD (a built ladle build tree; default build), BASE_STEPS (default 300), THREADS (default: all).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ladle=$(cd "${BUILD:-$root/build}" && pwd)/ladle
out=$root/out/averaging-experiment
results=$here/results
threads=(--threads "${THREADS:-0}")
mkdir -p "$out" "$results"

bash "$root/scripts/prepare-data.sh"

# The base: examples/train-tiny.yml at its tuned rate (cosine from 0.002), no averaging.
if [[ ! -f $out/base/final/config.json ]]; then
  "$ladle" "${threads[@]}" train --config "$root/examples/train-tiny.yml" --set "output_dir=$out/base" \
    --set "max_steps=${BASE_STEPS:-300}" --set evaluation.every_steps=0 --set evaluation.generation_examples=0 \
    --set checkpoint.every_steps=0 --set overwrite_output_dir=true
fi

"$ladle" "${threads[@]}" train --config "$here/experiment.yml" --set overwrite_output_dir=true

# Held-out loss of the raw weights and of each average at every evaluation, as a table and a plot.
jq -r 'select(.kind == "eval") | [.step, .["eval/loss"], .["ema/loss"], .["swa/loss"], .["lawa/loss"]]
       | map(if . == null then "NaN" else . end) | @tsv' "$out/high-lr/metrics.jsonl" \
  | { printf 'step\traw\tema\tswa\tlawa\n'; cat; } > "$results/averages_loss.tsv"
gnuplot <<GP
set terminal pngcairo size 800,480 font ",10"
set output '$results/averages_loss.png'
set title 'Held-out loss, fine-tuning at a high learning rate (AdamW, constant 0.01)'
set xlabel 'optimizer step'
set ylabel 'held-out loss (nats/token)'
set key top right
set grid
set datafile missing 'NaN'
plot for [col=2:5] '$results/averages_loss.tsv' using 1:col with linespoints title columnheader(col)
GP

cp "$out/high-lr/wise_ft/wise_ft.png" "$results/wise_ft.png"
cp "$out/high-lr/wise_ft/wise_ft.md" "$results/wise_ft.md"
column -t "$results/averages_loss.tsv"
cat "$results/wise_ft.md"
