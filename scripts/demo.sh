#!/usr/bin/env bash
# The main job on a fresh machine: set up (scripts/setup.sh), build while preparing the real instruction data
# (scripts/build.sh and scripts/prepare-data.sh side by side), pretrain the small base model
# (scripts/pretrain-base.sh), then run the Disperse-Then-Merge pipeline with its baselines (examples/dtm.yml) and
# print its report. Every step reuses what an earlier run finished (the build, the data, the base model, each
# pipeline stage), so a second run is quick; an interrupted one continues where it stopped.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${LADLE_BUILD_DIR:-$repo/build}
bash "$repo/scripts/setup.sh"
# The data needs no build (Debian and npm packages, read by Python): it is fetched and made while the build
# compiles, so its downloads cost no time of their own. Its output goes to a log, shown if it fails.
mkdir -p "$repo/out"
data_log=$repo/out/prepare-data.log
bash "$repo/scripts/prepare-data.sh" > "$data_log" 2>&1 &
data_pid=$!
# Only what the job runs: the `ladle` program (pretrain-base.sh and the pipeline) and the sentencepiece module it
# loads to train and use the tokenizer. scripts/run-tests.sh builds the rest.
LADLE_BUILD_TARGETS="ladle_cli ladle_sentencepiece" bash "$repo/scripts/build.sh"
if ! wait "$data_pid"; then
  tail -n 40 "$data_log" >&2
  echo "demo.sh: scripts/prepare-data.sh failed (log: $data_log)" >&2
  exit 1
fi
tail -n 3 "$data_log"
bash "$repo/scripts/pretrain-base.sh"
start=$(date +%s)
"$build_dir/ladle" dtm --config "$repo/examples/dtm.yml" --jobs "${LADLE_DTM_JOBS:-$(nproc)}"
echo "ladle dtm: $(( $(date +%s) - start )) s (embed to report); report and plots in $repo/out/dtm/report/"
