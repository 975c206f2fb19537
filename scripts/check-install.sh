#!/usr/bin/env bash
# Proves that ladle installs as a CMake package another project can use: installs the build in BUILD_DIR into a
# temporary prefix, builds examples/find_package_consumer against it with find_package(ladle), runs it (and that the
# built-in callback types are registered in it).
# Usage: scripts/check-install.sh BUILD_DIR
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$repo/examples/find_package_consumer" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
output=$("$work/build/ladle_consumer" "$work/out")
echo "consumer printed: $output"
value=$(sed -n 1p <<< "$output")
types=$(sed -n 2p <<< "$output")
[ "$value" = "2" ] || { echo "expected 2 (the mean of 1 and 3)" >&2; exit 1; }
# The callbacks library registers its types from a file the consumer never refers to: the installed package's link
# option must keep it.
[ "$types" = "ema swa lawa posthoc soup wise_ft" ] || { echo "expected the built-in callback types, got '$types'" >&2; exit 1; }
