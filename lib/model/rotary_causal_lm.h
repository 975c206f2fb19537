// The rotary decoder families, as transformers' modeling code computes them (eager attention):
//
// - Llama (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM; modeling_llama.py,
//   modeling_qwen3.py): pre-norm blocks h = x + attn(norm(x)), out = h + mlp(norm(h)) with RMSNorm, rotary
//   positions (Llama 3's rope_scaling when the config has it), grouped-query attention, a SwiGLU MLP; Qwen3
//   normalises each query and key head before the rotation.
// - Gemma 3 text (Gemma3ForCausalLM; modeling_gemma3.py): embeddings scaled by √hidden_size; norms on both sides
//   of each branch, h = x + norm(attn(norm(x))), out = h + norm(mlp(norm(h))), all RMSNorms scaled by
//   (1 + weight); q/k norms; scores scaled by query_pre_attn_scalar^−½ and soft-capped where the config says;
//   sliding-window layers (rotary base rope_local_base_freq, no scaling) interleaved with global ones
//   (rope_theta, rope_scaling); a GeGLU MLP; final logits soft-capped where the config says.
//
// Hugging Face names (N = layer): model.embed_tokens.weight; model.layers.N.self_attn.{q,k,v,o}_proj.weight
// (and .bias where the config has attention biases); model.layers.N.self_attn.{q,k}_norm.weight (Qwen3, Gemma 3);
// model.layers.N.mlp.{gate,up,down}_proj.weight; model.layers.N.input_layernorm.weight;
// model.layers.N.post_attention_layernorm.weight (Llama: before the MLP; Gemma 3: after attention);
// model.layers.N.{pre,post}_feedforward_layernorm.weight (Gemma 3); model.norm.weight; lm_head.weight unless tied.
#pragma once

#include <memory>
#include <string>

#include "lib/model/causal_lm.h"

namespace ladle::model {

class RotaryDecoderModel;

class RotaryCausalLm final : public CausalLm {
 public:
  // Parameters are uninitialised: call reset_parameters or load_hf_state_dict (or use create_causal_lm /
  // load_causal_lm). Throws ladle::Error when the config is of another family.
  explicit RotaryCausalLm(const CausalLmConfig& config);

  CausalLmOutput forward(const at::Tensor& input_ids, const ForwardOptions& options = {}) override;

 protected:
  bool is_checkpoint_buffer(const std::string& name) const override;
  std::string embedding_name() const override { return "model.embed_tokens.weight"; }

 private:
  std::shared_ptr<RotaryDecoderModel> model_;
  std::shared_ptr<Projection> lm_head_;  // null when tied to the embedding
};

}  // namespace ladle::model
