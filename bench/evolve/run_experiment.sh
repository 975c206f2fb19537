#!/usr/bin/env bash
# The evolve experiment: task-arithmetic and TIES recipes over the four k-means specialists of the DTM run, evolved
# by CMA-ES on a seeded subset of data/instructions/valid.jsonl (bench/evolve/evolve*.yml), against hand-set recipes
# (bench/evolve/recipes; the best of them picked on the same fitness subset) and each source model, all scored on
# data/instructions/test.jsonl, which the search never sees. Each seed draws its own fitness subset and CMA-ES
# stream (fitness.seed = search.seed = the seed), so the spread over seeds covers both. Writes out/evolve/ and
# prints the markdown tables (bench/evolve/table.py).
# Needs the DTM runs (ladle dtm --config examples/dtm.yml) and a built tree.
# Usage: bench/evolve/run_experiment.sh
# Environment: BUILD (default build), SEEDS (default "0 1 2"), TEST_EXAMPLES (default 480).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${BUILD:-$root/build}" && pwd)
out=$root/out/evolve
read -r -a seeds <<< "${SEEDS:-0 1 2}"
mkdir -p "$out"

# `evaluate FILE MAX_EXAMPLES SEED OUTPUT LABEL=FOLDER...`: held-out loss per task (no generation), as the fitness.
evaluate() {
  local data=$1 examples=$2 seed=$3 output=$4
  shift 4
  local labelled=()
  for model in "$@"; do labelled+=(--label "$model"); done
  "$build/ladle" --quiet evaluate --data "$data" --max-examples "$examples" --seed "$seed" --generation-examples 0 \
    --batch-size 32 --bf16 --output "$output" "${labelled[@]}" > /dev/null
}

: > "$out/timing.txt"
evolved=()
for seed in "${seeds[@]}"; do
  for search in task-arithmetic:evolve-task-arithmetic ties:evolve; do
    name=${search%%:*} config=${search#*:}
    /usr/bin/time -a -o "$out/timing.txt" -f "seed $seed $name: %e s wall, %U s user" \
      "$build/ladle" --quiet evolve --config "$here/$config.yml" --set "output_dir=$out/seed$seed/$name" \
      --set "search.seed=$seed" --set "fitness.seed=$seed"
  done
  evolved+=("evolved-ta-s$seed=$out/seed$seed/task-arithmetic/model" "evolved-ties-s$seed=$out/seed$seed/ties/model")
done
cat "$out/timing.txt"

models=(base="$root/data/base-model")
for k in 0 1 2 3; do models+=("kmeans-$k=$root/out/dtm/runs/kmeans-$k/final"); done
hand=()
for recipe in "$here"/recipes/*.yml; do
  name=$(basename "$recipe" .yml)
  [[ -f $out/hand-set/$name/config.json ]] || "$build/ladle" --quiet merge "$recipe" "$out/hand-set/$name" --overwrite
  hand+=("$name=$out/hand-set/$name")
done
# The hand-set recipes on each seed's fitness subset (the evolve runs' data, size and seed): the best one is that
# seed's baseline.
best=()
for seed in "${seeds[@]}"; do
  evaluate "$root/data/instructions/valid.jsonl" 96 "$seed" "$out/hand-set-fitness-s$seed.jsonl" "${hand[@]}"
  best+=("$(jq -s -r 'map({label: .label, mean: (.per_task | [.[]] | add / length)}) | min_by(.mean) | .label' \
    "$out/hand-set-fitness-s$seed.jsonl")")
done
echo "best hand-set recipe on each seed's fitness subset: ${best[*]}"

evaluate "$root/data/instructions/test.jsonl" "${TEST_EXAMPLES:-480}" 0 "$out/test.jsonl" "${models[@]}" "${hand[@]}" \
  "${evolved[@]}"
/usr/bin/python3 "$here/table.py" "$out/test.jsonl" "${seeds[*]}" "${best[*]}"
