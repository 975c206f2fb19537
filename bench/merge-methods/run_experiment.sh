#!/usr/bin/env bash
# The merge-methods experiment (issue 18, part 5): four task-group experts (groups.json) fine-tuned from
# data/base-model (expert.yml), merged by linear, task_arithmetic, ties, dare_ties, tsv_m, iso_cts and an evolved
# task-arithmetic recipe (make_recipes.py: one fixed setting per method), every model scored by `ladle evaluate` on
# a fixed subset of data/instructions/test.jsonl (test_subset.py), per seed; then FusionBench's normalised accuracy
# with 95% t-intervals over the seeds (summarize.py). Finished experts, merges and searches are reused on a rerun.
# Usage: bench/merge-methods/run_experiment.sh [SEED ...]     (default seeds: 0 1 2)
# Environment: BUILD (default build), OUT (default out/merge-methods), TEST_PER_TASK (default 30).
# Writes OUT/seed-S/{experts,merges,recipes,evolve,scores.jsonl}, OUT/base.jsonl; copies the small results into
# bench/merge-methods/results/ and prints the table.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${BUILD:-$root/build}" && pwd)
ladle=$build/ladle
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(0 1 2)
# Paths relative to the repository, so that the JSON lines and configs copied into results/ name no machine's path.
cd "$root"
out=${OUT:-out/merge-methods}
base=data/base-model
[[ -f $base/config.json ]] || { echo "run_experiment.sh: $base is missing (scripts/pretrain-base.sh)" >&2; exit 1; }
mkdir -p "$out"

test_set=$out/test-subset.jsonl
/usr/bin/python3 "$here/test_subset.py" data/instructions/test.jsonl "${TEST_PER_TASK:-30}" "$test_set"
test_examples=$(wc -l < "$test_set")

# `ladle evaluate` on the test subset: every example's loss, and its reply generated (exact match) or chosen.
evaluate() {
  local output=$1
  shift
  local labelled=()
  for model in "$@"; do labelled+=(--label "$model"); done
  /usr/bin/time -f "evaluate $(basename "$(dirname "$output")")/$(basename "$output"): %e s" \
    "$ladle" --quiet evaluate --data "$test_set" --max-examples 0 --generation-examples "$test_examples" --batch-size 64 \
    --bf16 --output "$output" "${labelled[@]}" > /dev/null
}

[[ -f $out/base.jsonl ]] || evaluate "$out/base.jsonl" "base=$base"

for seed in "${seeds[@]}"; do
  run=$out/seed-$seed
  experts=()
  for group in $(jq -r 'keys_unsorted[]' "$here/groups.json"); do
    expert=$run/experts/$group
    if [[ ! -f $expert/final/config.json ]]; then
      tasks=$(jq -c --arg g "$group" '.[$g]' "$here/groups.json")
      /usr/bin/time -f "train $group (seed $seed): %e s" "$ladle" --quiet train --config "$here/expert.yml" \
        --set "output_dir=$expert" --set "seed=$seed" --set "data.tasks=$tasks" --set overwrite_output_dir=true
    fi
    experts+=("$expert/final")
  done
  /usr/bin/python3 "$here/make_recipes.py" "$run/recipes" "$seed" "$base" "${experts[@]}"
  models=()
  for group in $(jq -r 'keys_unsorted[]' "$here/groups.json"); do models+=("expert-$group=$run/experts/$group/final"); done
  for method in linear task_arithmetic ties dare_ties tsv_m iso_cts; do
    merged=$run/merges/$method
    [[ -f $merged/config.json ]] || /usr/bin/time -f "merge $method (seed $seed): %e s" \
      "$ladle" --quiet merge "$run/recipes/$method.yml" "$merged" --seed "$seed" --overwrite
    models+=("$method=$merged")
  done
  [[ -f $run/recipes/evolve/model/config.json ]] || /usr/bin/time -f "evolve (seed $seed): %e s" \
    "$ladle" --quiet evolve --config "$run/recipes/evolve.yml"
  models+=("evolved=$run/recipes/evolve/model")
  [[ -f $run/scores.jsonl ]] || evaluate "$run/scores.jsonl" "${models[@]}"
done

results=$here/results
mkdir -p "$results"
cp "$out/base.jsonl" "$results/base.jsonl"
for seed in "${seeds[@]}"; do cp "$out/seed-$seed/scores.jsonl" "$results/scores-seed-$seed.jsonl"; done
# The search's result (weights found, fitness, per-task fitness loss); its recipe.yml names absolute paths.
for seed in "${seeds[@]}"; do cp "$out/seed-$seed/recipes/evolve/result.json" "$results/evolved-seed-$seed.json"; done
/usr/bin/python3 "$here/summarize.py" "$out" "$results" "${seeds[@]}"
