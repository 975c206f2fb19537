// Pieces of the forward pass shared by the model families: positions and the attention mask of one call,
// rotary embeddings, and masked (grouped-query) attention.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>

#include "lib/model/causal_lm.h"

namespace ladle::model {

// What every layer of one forward call needs to know about positions.
struct AttentionContext {
  at::Tensor input_ids;     // [batch, seq] int64
  at::Tensor position_ids;  // [batch, seq] int64, derived from the attention mask (see ForwardOptions)
  // [batch, 1, seq, past + seq] bool, true where query i must NOT see key j: a later position or padding.
  at::Tensor blocked;
  std::int64_t past_length = 0;  // positions already in the cache
  KvCache* cache = nullptr;
};

// Validates input_ids ([batch, seq], integral, ids in [0, vocab_size)) and the mask, extends the cache's mask,
// and derives positions and the causal + padding mask.
// `max_length` bounds past + seq (GPT-2's position table, Mistral's sliding window): beyond it, ladle::Error
// says "sequence of N positions exceeds <limit_name> (<max_length>)<limit_reason>".
AttentionContext prepare_attention(const at::Tensor& input_ids, const ForwardOptions& options, std::int64_t vocab_size,
                                   std::optional<std::int64_t> max_length, const std::string& limit_name,
                                   const std::string& limit_reason = "");

// The rotary inverse frequencies θ^(−2i/d), i < d/2, in fp32 as transformers' default rope computes them; with
// Llama 3's `scaling`, the low frequencies divided by its factor and the middle band interpolated
// (_compute_llama3_parameters). [head_dim / 2] on `device`.
at::Tensor rotary_inverse_frequencies(std::int64_t head_dim, double theta, const std::optional<RopeScaling>& scaling,
                                      at::Device device);

// cos and sin of the rotary angles position·inv_freq, each repeated for the two halves as transformers'
// LlamaRotaryEmbedding builds them: [batch, 1, seq, head_dim], in `dtype`.
struct RotaryTables {
  at::Tensor cos;
  at::Tensor sin;
};
RotaryTables rotary_tables(const at::Tensor& position_ids, const at::Tensor& inverse_frequencies, at::ScalarType dtype);

// The context's mask with every key at least `window` positions before its query blocked too: a query sees
// itself and the window − 1 positions before it, as transformers' sliding_window_overlay (key > query − window)
// counts them, over padded positions.
at::Tensor sliding_window_blocked(const AttentionContext& context, std::int64_t window);

// x·cos + rotate_half(x)·sin, with rotate_half(x) = cat(−x₂, x₁) over the two halves of the last dimension
// (Su et al., "RoFormer", eq. 34, in transformers' non-interleaved layout). x [batch, heads, seq, head_dim].
at::Tensor apply_rotary(const at::Tensor& x, const RotaryTables& tables);

// [batch, seq, heads·head_dim] <-> [batch, heads, seq, head_dim]
at::Tensor split_heads(const at::Tensor& x, std::int64_t heads);
at::Tensor merge_heads(const at::Tensor& x);

// How attention scores are formed from q·kᵀ.
struct ScoreOptions {
  std::optional<double> scale;    // the factor of q·kᵀ; none: 1/√head_dim
  std::optional<double> softcap;  // cap·tanh(scores / cap) before the mask (Gemma's attn_logit_softcapping)
};

// softmax(scale·q·kᵀ, blocked positions excluded)·v, the softmax in fp32. Keys and values may have fewer
// heads than queries (grouped-query attention): query head h uses key/value head h / (heads / kv_heads), as
// transformers' repeat_kv arranges them. q [batch, heads, seq, d], k and v [batch, kv_heads, keys, d];
// returns [batch, heads, seq, d]. Dropout on the probabilities when `dropout` > 0 and `training`.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& blocked,
                  double dropout, bool training, const ScoreOptions& scores = {});

}  // namespace ladle::model
