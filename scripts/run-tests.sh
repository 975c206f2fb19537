#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (what CI runs). Extra arguments go to ctest.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${LADLE_BUILD_DIR:-$repo/build}
bash "$repo/scripts/build.sh"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@"
