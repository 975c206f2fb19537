// The layer structure of a model, read from its Hugging Face tensor names: "model.layers.3.mlp.up_proj.weight"
// is layer 3 of the stack "model.layers" (Llama, Mistral, Qwen, ...), "transformer.h.3.attn.c_attn.weight" layer 3
// of "transformer.h" (GPT-2). Tensors outside the stack (embeddings, final norm, lm_head) are the "pre" and
// "post" weights of mergekit's architecture definitions (mergekit/architecture): embeddings come before the
// layers, everything else after.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ladle::merge {

// One tensor of a layer: <stack>.<index>.<suffix>.
struct LayerTensorName {
  std::string stack;   // e.g. "model.layers", "transformer.h"
  std::int64_t index;  // e.g. 3
  std::string suffix;  // e.g. "mlp.up_proj.weight"
};

// The layer a tensor belongs to, or nullopt for a tensor outside the layer stack. The stack is the longest
// dotted prefix ending in ".layers" or ".h" (or exactly "layers" / "h") that is followed by a decimal index
// with no leading zeros and a non-empty suffix.
std::optional<LayerTensorName> parse_layer_tensor_name(const std::string& name);

// "<stack>.<index>.<suffix>".
std::string layer_tensor_name(const std::string& stack, std::int64_t index, const std::string& suffix);

// True for a token-embedding or output-projection matrix whose rows are the vocabulary (embed_tokens, wte,
// embed_in, word_embeddings, lm_head, embed_out): mergekit's `is_embed` weights, the ones whose row counts
// differ when tokenizers differ.
bool is_vocabulary_tensor(const std::string& name);

// True for a non-layer tensor that mergekit plans before the layers (the input embeddings, with the first
// slice's models); false for one planned after them (final norm, lm_head, with the last slice's models).
bool is_pre_layer_tensor(const std::string& name);

}  // namespace ladle::merge
