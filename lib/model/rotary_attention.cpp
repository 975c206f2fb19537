#include "lib/model/rotary_attention.h"

#include <ATen/ATen.h>

namespace ladle::model {
namespace {

std::shared_ptr<Projection> linear(std::int64_t in, std::int64_t out, bool bias) {
  return std::make_shared<Projection>(in, out, bias, WeightLayout::out_in);
}

}  // namespace

RmsNormWeight rms_norm_weight(const CausalLmConfig& config) {
  return config.family == CausalLmFamily::gemma3 ? RmsNormWeight::unit_offset : RmsNormWeight::scale;
}

RotaryAttention::RotaryAttention(const CausalLmConfig& config)
    : torch::nn::Module("RotaryAttention"),
      heads_(config.num_attention_heads),
      kv_heads_(config.key_value_heads()),
      dropout_(config.attention_dropout),
      scores_{config.attention_scale(), config.attn_logit_softcapping} {
  const std::int64_t hidden = config.hidden_size, dim = config.attention_head_dim();
  const bool qkv_bias = config.attention_qkv_bias;
  q_proj_ = register_module("q_proj", linear(hidden, heads_ * dim, qkv_bias));
  k_proj_ = register_module("k_proj", linear(hidden, kv_heads_ * dim, qkv_bias));
  v_proj_ = register_module("v_proj", linear(hidden, kv_heads_ * dim, qkv_bias));
  o_proj_ = register_module("o_proj", linear(heads_ * dim, hidden, config.attention_output_bias));
  if (config.has_query_key_norm()) {
    q_norm_ = register_module("q_norm", std::make_shared<RmsNorm>(dim, config.norm_eps, rms_norm_weight(config)));
    k_norm_ = register_module("k_norm", std::make_shared<RmsNorm>(dim, config.norm_eps, rms_norm_weight(config)));
  }
}

at::Tensor RotaryAttention::forward(const at::Tensor& x, const AttentionContext& context, const RotaryTables& rotary,
                                    const at::Tensor& blocked, std::size_t layer) {
  at::Tensor q = split_heads(q_proj_->forward(x), heads_);
  at::Tensor k = split_heads(k_proj_->forward(x), kv_heads_);
  at::Tensor v = split_heads(v_proj_->forward(x), kv_heads_);
  if (q_norm_) {  // Qwen3Attention, Gemma3Attention: per-head norms before the rotation
    q = q_norm_->forward(q);
    k = k_norm_->forward(k);
  }
  q = apply_rotary(q, rotary);
  k = apply_rotary(k, rotary);
  if (context.cache != nullptr) std::tie(k, v) = context.cache->append(layer, k, v);
  return o_proj_->forward(merge_heads(attend(q, k, v, blocked, dropout_, is_training(), scores_)));
}

GatedMlp::GatedMlp(const CausalLmConfig& config) : torch::nn::Module("GatedMlp"), activation_(config.hidden_act) {
  const std::int64_t hidden = config.hidden_size, inner = config.intermediate_size;
  gate_proj_ = register_module("gate_proj", linear(hidden, inner, config.mlp_bias));
  up_proj_ = register_module("up_proj", linear(hidden, inner, config.mlp_bias));
  down_proj_ = register_module("down_proj", linear(inner, hidden, config.mlp_bias));
}

at::Tensor GatedMlp::forward(const at::Tensor& x) {
  return down_proj_->forward(activate(gate_proj_->forward(x), activation_) * up_proj_->forward(x));
}

}  // namespace ladle::model
