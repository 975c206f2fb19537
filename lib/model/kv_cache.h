// Keys and values of the tokens a causal LM has already seen, so that incremental decoding runs each new token
// through the model once instead of re-running the whole sequence.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ladle::model {

// One cache serves one batch of sequences through one model, from the first forward call (usually the prompts)
// through every later one (new tokens). It also keeps the attention mask of the cached positions, so each
// forward call passes the mask of its new tokens only. Positions are counted per sequence with padding
// included: every sequence of the batch has length() cached positions.
//
// A forward call that throws leaves the cache in an unspecified state: clear() it before reuse.
class KvCache {
 public:
  // Cached positions per sequence (padding included); 0 when empty.
  std::int64_t length() const { return attention_mask_.defined() ? attention_mask_.size(1) : 0; }
  // Sequences in the cached batch; 0 when empty.
  std::int64_t batch_size() const { return attention_mask_.defined() ? attention_mask_.size(0) : 0; }
  bool empty() const { return length() == 0; }
  void clear();

  // ---- Used by model implementations during a forward call ----

  // Appends the new tokens' mask ([batch, new] int64, 1 = token, 0 = padding) and returns the mask of every
  // position, cached and new ([batch, length() + new]). Called once per forward call, before the layers.
  at::Tensor extend_attention_mask(const at::Tensor& new_mask);
  // The mask of every cached position, [batch, length()] int64 (undefined when empty).
  const at::Tensor& attention_mask() const { return attention_mask_; }

  // Appends a layer's keys and values for the new tokens ([batch, kv_heads, new, head_dim]) and returns that
  // layer's keys and values for every position ([batch, kv_heads, length(), head_dim]). Layers are appended in
  // order 0, 1, ... on the first call and may then be appended in any order.
  std::pair<at::Tensor, at::Tensor> append(std::size_t layer, const at::Tensor& key, const at::Tensor& value);

 private:
  at::Tensor attention_mask_;
  std::vector<at::Tensor> keys_;
  std::vector<at::Tensor> values_;
};

}  // namespace ladle::model
