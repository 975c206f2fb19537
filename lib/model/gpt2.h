// GPT-2 (GPT2LMHeadModel) as transformers' modeling_gpt2.py computes it (eager attention): learned position
// embeddings, pre-norm blocks with LayerNorm, fused q/k/v projection, GELU (tanh) MLP. Its dense layers are
// Conv1D modules whose weights are stored [in, out]; ladle keeps that layout.
//
// Hugging Face names (N = layer): transformer.wte.weight; transformer.wpe.weight; transformer.h.N.ln_1.{weight,bias};
// transformer.h.N.attn.c_attn.{weight [hidden, 3·hidden], bias}; transformer.h.N.attn.c_proj.{weight,bias};
// transformer.h.N.ln_2.{weight,bias}; transformer.h.N.mlp.c_fc.{weight [hidden, inner], bias};
// transformer.h.N.mlp.c_proj.{weight [inner, hidden], bias}; transformer.ln_f.{weight,bias}; lm_head.weight only
// when tie_word_embeddings is false.
#pragma once

#include <memory>
#include <string>

#include "lib/model/causal_lm.h"

namespace ladle::model {

class Gpt2Model;

class Gpt2LmHeadModel final : public CausalLm {
 public:
  // Parameters are uninitialised: call reset_parameters or load_hf_state_dict (or use create_causal_lm /
  // load_causal_lm). Throws ladle::Error when the config is not GPT-2.
  explicit Gpt2LmHeadModel(const CausalLmConfig& config);

  CausalLmOutput forward(const at::Tensor& input_ids, const ForwardOptions& options = {}) override;

 protected:
  // The causal-mask buffers attn.bias and attn.masked_bias that GPT-2 checkpoints carry.
  bool is_checkpoint_buffer(const std::string& name) const override;
  // Checkpoints saved from GPT2Model (such as the original "gpt2") name tensors without "transformer.".
  NamedTensors with_canonical_names(const NamedTensors& tensors) const override;
  std::string embedding_name() const override { return "transformer.wte.weight"; }
  // c_proj weights: initializer_range / √(2·n_layer) (the GPT-2 paper's scaled residual initialisation).
  double initial_weight_std(const std::string& module_name) const override;

 private:
  std::shared_ptr<Gpt2Model> transformer_;
  std::shared_ptr<Projection> lm_head_;  // null when tied to the embedding
};

}  // namespace ladle::model
