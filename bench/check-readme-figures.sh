#!/usr/bin/env bash
# Reruns the README's cheap figures (each the output of a command the README names) and compares them with the
# README's text (bench/readme_figures.py): one line per figure, README value beside the rerun's, and exit status 1
# when a deterministic figure differs.
#
# Deterministic figures (bit-identical across runs on one machine; compared exactly as printed):
#   - the DTM demo (`ladle dtm --config examples/dtm.yml`, rerun from nothing into a scratch folder): every cell of
#     the README's tables of its report, the k-means clusters' purity, NMI and sizes
#   - `ladle evolve` on bench/evolve/evolve-task-arithmetic.yml over the rerun's k-means sub-models: the first
#     generation's line (best, mean, best so far, sigma, population, candidates); the fitness of a candidate does
#     not depend on the worker count or the load
#   - the default base model's parameter count (`ladle inspect data/base-model --summary --json`)
#   - with the test binary built: the number of bad inputs (BadInputTable's cases, summed from docs/bad-inputs.md once
#     the test that regenerates it passes) and the merge methods' agreement with
#     the numpy reference (their test suites pass at the README's 1e-5)
# Timing figures (they depend on the machine and its load): printed side by side with the README's, flagged
# "OFF >2x" only when more than 2x away, never failing the check: the DTM pipeline's wall time from nothing, evolve's
# seconds per generation with 2 workers and its merge and evaluation seconds per candidate.
# Not rerun (minutes each): pretraining the base model, the evolve and averaging experiments, the larger DTM bench,
# the merge and tokenizer benchmarks, the test suite.
#
# Needs a build (build/ladle; build/tests/ladle_tests for the last two figures), data/ (scripts/prepare-data.sh) and
# data/base-model (scripts/pretrain-base.sh). Time: the DTM rerun dominates, and in it the c-BTM ensemble's
# evaluation (K forward passes per token): the demo takes about 2 min on an idle 2-core machine (the ensemble's
# evaluation about 1 min of it); evolve's 3 generations take 30 s at load 6.
# Usage: bench/check-readme-figures.sh      Environment: BUILD (default build), WORK (scratch; default a fresh
# temporary folder, removed at the end), JOBS (the DTM's --jobs, default 2 as the README's figures).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${BUILD:-$repo/build}" && pwd)
ladle=$build/ladle
readme=$repo/README.md
compare=(/usr/bin/python3 "$repo/bench/readme_figures.py")
if [ -n "${WORK:-}" ]; then
  work=$WORK
  mkdir -p "$work"
else
  work=$(mktemp -d /var/tmp/ladle-readme-figures.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
for needed in "$ladle" "$repo/data/base-model/model.safetensors" "$repo/data/instructions/train.jsonl"; do
  [ -e "$needed" ] || { echo "check-readme-figures.sh: $needed is missing (scripts/demo.sh makes it)" >&2; exit 2; }
done
status=0
check() { "$@" || status=1; }

echo "== DTM demo: ladle dtm --config examples/dtm.yml --jobs ${JOBS:-2}, from nothing, into $work/dtm"
start=$(date +%s.%N)
"$ladle" --quiet dtm --config "$repo/examples/dtm.yml" --set "output_dir=$work/dtm" --jobs "${JOBS:-2}" > "$work/dtm.log"
wall=$(echo "$(date +%s.%N) - $start" | bc)
check "${compare[@]}" dtm "$readme" "$work/dtm" "$wall"

echo "== ladle evolve --config bench/evolve/evolve-task-arithmetic.yml, 3 generations, over the rerun's sub-models"
models="["
for k in 0 1 2 3; do models+="{model: $work/dtm/runs/kmeans-$k/final},"; done
"$ladle" --quiet evolve --config "$repo/bench/evolve/evolve-task-arithmetic.yml" --set "output_dir=$work/evolve" \
  --set "merge.models=${models%,}]" --stop-after-generations 3 > "$work/evolve.log"
check "${compare[@]}" evolve "$readme" "$work/evolve.log" "$work/evolve/candidates.jsonl"

echo "== the default base model"
parameters=$("$ladle" inspect "$repo/data/base-model" --summary --json | jq -r '.parameters')
check "${compare[@]}" value "$readme" "base model parameters" '\| parameters \| ([\d,]+) \(' "$parameters"

tests=$build/tests/ladle_tests
if [ -x "$tests" ]; then
  echo "== the test binary's tables"
  # docs/bad-inputs.md is generated from BadInputTable's cases, and this test fails when it no longer is.
  if "$tests" --gtest_filter='BadInputTableDocs.DocsBadInputsMdIsTheGeneratedTable' --gtest_brief=1 \
      > "$work/bad-inputs.log" 2>&1; then
    cases=$(awk -F'|' '/^\| [^-]/ && $3 ~ /^ *[0-9]+ *$/ {n += $3} END {print n}' "$repo/docs/bad-inputs.md")
  else
    cases="docs/bad-inputs.md is not the generated table (see $work/bad-inputs.log)"
  fi
  check "${compare[@]}" value "$readme" "bad inputs (BadInputTable cases)" '\[([\d,]+) bad inputs\]' "$cases"
  # The cases that compare a merge method with tests/tools/merge_methods_reference.py (at 1e-5 relative).
  filter='*AgreesWithNumpyReference*'
  if "$tests" --gtest_filter="$filter" --gtest_brief=1 > "$work/reference.log" 2>&1; then agreement="1e-5"; else
    agreement="failed (see $work/reference.log)"; fi
  check "${compare[@]}" value "$readme" "merge methods vs the numpy reference (relative)" \
    'agrees to (1e-5) relative\s+with a numpy reference' "$agreement"
else
  echo "SKIPPED  bad inputs and merge reference agreement: $tests is not built"
fi

exit $status
