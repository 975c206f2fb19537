#!/usr/bin/env bash
# The evolve experiment: task-arithmetic and TIES recipes over the four k-means specialists of the DTM run, evolved
# by CMA-ES on a subset of data/instructions/valid.jsonl (bench/evolve/evolve*.yml), against hand-set recipes (bench/evolve/recipes;
# the best of them picked on the same fitness subset) and each source model, all scored on
# data/instructions/test.jsonl, which the search never sees. Writes out/evolve/ and prints the markdown table.
# Needs the DTM runs (ladle dtm --config examples/dtm.yml) and a built tree.
# Usage: bench/evolve/run_experiment.sh
# Environment: BUILD (default build), TEST_EXAMPLES (default 480).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${BUILD:-$root/build}" && pwd)
out=$root/out/evolve
mkdir -p "$out"

# `ladle evaluate FILE MAX_EXAMPLES OUTPUT LABEL=FOLDER...`: held-out loss per task (no generation), as the fitness.
evaluate() {
  local data=$1 examples=$2 output=$3
  shift 3
  local labelled=()
  for model in "$@"; do labelled+=(--label "$model"); done
  "$build/ladle" --quiet evaluate --data "$data" --max-examples "$examples" --generation-examples 0 --batch-size 32 \
    --bf16 --output "$output" "${labelled[@]}" > /dev/null
}

for config in evolve-task-arithmetic evolve; do
  /usr/bin/time -f "$config: %e s wall" "$build/ladle" --quiet evolve --config "$here/$config.yml"
done

models=(base="$root/data/base-model")
for k in 0 1 2 3; do models+=("kmeans-$k=$root/out/dtm/runs/kmeans-$k/final"); done
hand=()
for recipe in "$here"/recipes/*.yml; do
  name=$(basename "$recipe" .yml)
  [[ -f $out/hand-set/$name/config.json ]] || "$build/ladle" --quiet merge "$recipe" "$out/hand-set/$name" --overwrite
  hand+=("$name=$out/hand-set/$name")
done
# The hand-set recipes on the fitness subset (the evolve run's data, size and seed): the best one is the baseline.
evaluate "$root/data/instructions/valid.jsonl" 96 "$out/hand-set-fitness.jsonl" "${hand[@]}"
best=$(jq -s -r 'map({label: .label, mean: (.per_task | [.[]] | add / length)}) | min_by(.mean) | .label' \
  "$out/hand-set-fitness.jsonl")
echo "best hand-set recipe on the fitness subset: $best"

evaluate "$root/data/instructions/test.jsonl" "${TEST_EXAMPLES:-480}" "$out/test.jsonl" "${models[@]}" \
  "$best=$out/hand-set/$best" "evolved-ta=$out/task-arithmetic/model" "evolved-ties=$out/ties/model"
/usr/bin/python3 "$here/table.py" "$out/test.jsonl" "$best"
