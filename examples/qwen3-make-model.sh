#!/usr/bin/env bash
# Makes the model examples/qwen3-lora.yml fine-tunes: a randomly initialised Qwen3 folder with Qwen3-0.6B's exact
# config.json except num_hidden_layers (4 of its 28 layers, so the example runs in minutes on a laptop CPU; every
# other shape is the real one: 151,936-token vocabulary, hidden 1024, 16 query / 8 key-value heads of 128,
# q/k norms, tied embeddings), bf16 weights, and Qwen3's real tokenizer and chat template beside them.
#
#   examples/qwen3-make-model.sh [OUT_DIR] [TOKENIZERS_DIR]
#     OUT_DIR         default examples/models/qwen3-4layers (git-ignored)
#     TOKENIZERS_DIR  default data/tokenizers (scripts/fetch-hf-tokenizers.sh fills it)
# The full-size model: scripts/make-shaped-checkpoint.py without --layers (bench/real-size/).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$repo/examples/models/qwen3-4layers}
tokenizers=${2:-$repo/data/tokenizers}
exec /usr/bin/python3 "$repo/scripts/make-shaped-checkpoint.py" "$repo/scripts/model-configs/qwen3-0.6b.json" \
  "$tokenizers/qwen3" "$out" --layers 4
