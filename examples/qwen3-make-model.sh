#!/usr/bin/env bash
# Makes the model examples/qwen3-lora.yml fine-tunes: a randomly initialised Qwen3 folder with Qwen3-0.6B's exact
# config.json except num_hidden_layers (4 of its 28 layers, so the example runs in minutes on a laptop CPU; every
# other shape is the real one: 151,936-token vocabulary, hidden 1024, 16 query / 8 key-value heads of 128,
# q/k norms, tied embeddings), bf16 weights, and Qwen3's real tokenizer and chat template beside them. With --full,
# all 28 layers: the exact shapes of Qwen3-0.6B (596M parameters, 1.1 GiB; bench/real-size/ measures its runs).
#
#   examples/qwen3-make-model.sh [--full] [OUT_DIR] [TOKENIZERS_DIR]
#     OUT_DIR         default examples/models/qwen3-4layers (with --full: examples/models/qwen3-28layers; git-ignored)
#     TOKENIZERS_DIR  default data/tokenizers (scripts/fetch-hf-tokenizers.sh fills it)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
layers=(--layers 4)
default_out=$repo/examples/models/qwen3-4layers
if [ "${1:-}" = --full ]; then
  layers=()
  default_out=$repo/examples/models/qwen3-28layers
  shift
fi
out=${1:-$default_out}
tokenizers=${2:-$repo/data/tokenizers}
exec /usr/bin/python3 "$repo/scripts/make-shaped-checkpoint.py" "$repo/scripts/model-configs/qwen3-0.6b.json" \
  "$tokenizers/qwen3" "$out" "${layers[@]}"
