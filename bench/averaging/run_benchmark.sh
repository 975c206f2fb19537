#!/usr/bin/env bash
# Averaging benchmark: EMA / SWA update time as a percentage of one training step of a comparable Llama model
# (target <= 1%), and the update's bytes moved per second as a fraction of the machine's triad bandwidth measured
# in the same run (target >= 80%). See averaging_bench.cpp for what is measured and how bytes are counted.
# Usage: bench/averaging/run_benchmark.sh [averaging_bench options, e.g. --bf16 --threads 2]
# Environment: BUILD (a configured and built ladle build tree; default build), WORK (scratch folder; default
# /var/tmp/ladle-averaging-bench).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${BUILD:-$here/../../build}" && pwd)
work=${WORK:-/var/tmp/ladle-averaging-bench}
mkdir -p "$work"

source "$here/../build-against-install.sh"
build_against_installed_ladle "$build" "$here" "$work"
"$work/build/averaging_bench" "$@"
