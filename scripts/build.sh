#!/usr/bin/env bash
# Sets the machine up (scripts/setup.sh) and builds ladle in Release into build/ (or $LADLE_BUILD_DIR).
# Extra arguments go to CMake's configure step, e.g. scripts/build.sh -DLADLE_SANITIZE=ON.
# LADLE_BUILD_TARGETS (space-separated) builds only those targets, e.g. "ladle_cli ladle_sentencepiece"; unset or
# empty, everything (the test suite included).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${LADLE_BUILD_DIR:-$repo/build}
bash "$repo/scripts/setup.sh"
# ccache keys on relative paths below the checkout, so another clone of the repository reuses the cache.
export CCACHE_BASEDIR="$repo"
cmake -S "$repo" -B "$build_dir" -G Ninja "$@"
if [ -n "${LADLE_BUILD_TARGETS:-}" ]; then
  read -ra targets <<< "$LADLE_BUILD_TARGETS"
  cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}"
else
  cmake --build "$build_dir" -j "$(nproc)"
fi
