#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, then run the most complete workflow ladle has so far
# (until the Disperse-Then-Merge pipeline lands): write a Llama-shaped base and three fine-tunes as sharded
# Hugging Face folders, average them into a uniform soup with a streaming pass, and inspect the result.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${LADLE_BUILD_DIR:-$repo/build}
bash "$repo/scripts/build.sh"
work="$repo/out/demo"
mkdir -p "$work"
"$build_dir/examples/synthetic_finetunes" "$work/models" 3
rm -rf "$work/soup"
"$build_dir/examples/uniform_soup" "$work/soup" "$work"/models/finetune-{1,2,3}
"$build_dir/ladle" inspect "$work/soup" --summary
