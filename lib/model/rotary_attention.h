// The self-attention of the rotary families (LlamaAttention, Qwen3Attention, Gemma3Attention in transformers):
// q/k/v/o_proj, an optional RMSNorm over each query and key head, rotary embeddings on queries and keys, and
// grouped-query attention through the KV cache; and their gated MLP.
//
// Parameters, in transformers' registration order: q_proj, k_proj, v_proj, o_proj (weights [out, in], biases as
// the config says), then q_norm and k_norm ([head_dim], Qwen3 and Gemma 3 only).
#pragma once

#include <torch/nn/module.h>

#include <cstddef>
#include <memory>

#include "lib/model/attention.h"
#include "lib/model/causal_lm_config.h"
#include "lib/model/layers.h"
#include "lib/model/projection.h"

namespace ladle::model {

class RotaryAttention : public torch::nn::Module {
 public:
  explicit RotaryAttention(const CausalLmConfig& config);

  // x [batch, seq, hidden] -> [batch, seq, hidden]. `blocked` is the layer's mask (the context's, or its
  // sliding-window version); `layer` indexes the cache.
  at::Tensor forward(const at::Tensor& x, const AttentionContext& context, const RotaryTables& rotary,
                     const at::Tensor& blocked, std::size_t layer);

 private:
  std::int64_t heads_;
  std::int64_t kv_heads_;
  double dropout_;
  ScoreOptions scores_;
  std::shared_ptr<Projection> q_proj_, k_proj_, v_proj_, o_proj_;
  std::shared_ptr<RmsNorm> q_norm_, k_norm_;  // null unless config.has_query_key_norm()
};

// The gated MLP of the rotary families: down_proj(act(gate_proj(x)) · up_proj(x)): SwiGLU with silu (Llama),
// GeGLU with the tanh GELU (Gemma).
class GatedMlp : public torch::nn::Module {
 public:
  explicit GatedMlp(const CausalLmConfig& config);
  at::Tensor forward(const at::Tensor& x);  // [..., hidden] -> [..., hidden]

 private:
  Activation activation_;
  std::shared_ptr<Projection> gate_proj_, up_proj_, down_proj_;
};

// The RMSNorm convention of the family: Gemma's (1 + weight), else Llama's weight.
RmsNormWeight rms_norm_weight(const CausalLmConfig& config);

}  // namespace ladle::model
