#!/usr/bin/env bash
# The main job on a fresh machine: set up and build (scripts/build.sh runs scripts/setup.sh), prepare the real
# instruction data (scripts/prepare-data.sh), pretrain the small base model (scripts/pretrain-base.sh), then run
# the Disperse-Then-Merge pipeline with its baselines (examples/dtm.yml) and print its report. Every step reuses
# what an earlier run finished (the build, the data, the base model, each pipeline stage), so a second run is
# quick; an interrupted one continues where it stopped.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${LADLE_BUILD_DIR:-$repo/build}
# Only what the job runs: the `ladle` program (pretrain-base.sh and the pipeline) and the sentencepiece module it
# loads to train and use the tokenizer; prepare-data.sh is Python. scripts/run-tests.sh builds the rest.
LADLE_BUILD_TARGETS="ladle_cli ladle_sentencepiece" bash "$repo/scripts/build.sh"
bash "$repo/scripts/prepare-data.sh"
bash "$repo/scripts/pretrain-base.sh"
start=$(date +%s)
"$build_dir/ladle" dtm --config "$repo/examples/dtm.yml" --jobs "${LADLE_DTM_JOBS:-$(nproc)}"
echo "ladle dtm: $(( $(date +%s) - start )) s (embed to report); report and plots in $repo/out/dtm/report/"
