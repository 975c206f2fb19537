#!/usr/bin/env bash
# Proves that ladle installs as a CMake package another project can use: installs the build in BUILD_DIR into a
# temporary prefix, builds examples/find_package_consumer against it with find_package(ladle), runs it.
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
value=$("$work/build/ladle_consumer" "$work/out")
echo "consumer printed: $value"
[ "$value" = "2" ] || { echo "expected 2 (the mean of 1 and 3)" >&2; exit 1; }
