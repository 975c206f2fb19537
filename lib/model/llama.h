// The Llama family (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM): pre-norm decoder blocks with
// RMSNorm, rotary position embeddings, grouped-query attention and a SwiGLU MLP, as transformers'
// modeling_llama.py computes them (eager attention).
//
// Hugging Face names (N = layer): model.embed_tokens.weight; model.layers.N.self_attn.{q,k,v,o}_proj.weight
// (and .bias where the config has attention biases); model.layers.N.mlp.{gate,up,down}_proj.weight;
// model.layers.N.input_layernorm.weight; model.layers.N.post_attention_layernorm.weight; model.norm.weight;
// lm_head.weight unless tied.
#pragma once

#include <memory>
#include <string>

#include "lib/model/causal_lm.h"

namespace ladle::model {

class LlamaModel;

class LlamaForCausalLM final : public CausalLm {
 public:
  // Parameters are uninitialised: call reset_parameters or load_hf_state_dict (or use create_causal_lm /
  // load_causal_lm). Throws ladle::Error when the config is not of the Llama family.
  explicit LlamaForCausalLM(const CausalLmConfig& config);

  CausalLmOutput forward(const at::Tensor& input_ids, const ForwardOptions& options = {}) override;

 protected:
  bool is_checkpoint_buffer(const std::string& name) const override;
  std::string embedding_name() const override { return "model.embed_tokens.weight"; }

 private:
  std::shared_ptr<LlamaModel> model_;
  std::shared_ptr<Projection> lm_head_;  // null when tied to the embedding
};

}  // namespace ladle::model
