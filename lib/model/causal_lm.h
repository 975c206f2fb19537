// The interface every causal language model in ladle implements, and the Hugging Face state-dict mapping they
// share.
//
// Parameter naming: each model's submodules are registered under the same paths as in the transformers
// modeling code (model.layers.0.self_attn.q_proj, transformer.h.0.attn.c_attn, ...) and its parameters with the
// same shapes, so named_parameters() *is* the Hugging Face state dict: no translation table. Weights keep
// their checkpoint layout (GPT-2's Conv1D weights stay [in, out]); LoRA adapters appear as
// "<module>.lora_A.weight" / "<module>.lora_B.weight" and are left out of hf_state_dict().
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/causal_lm_config.h"
#include "lib/model/kv_cache.h"
#include "lib/weights/named_tensors.h"

namespace ladle::model {

class Projection;

struct ForwardOptions {
  // [batch, seq] (bool or integer; 1 = token, 0 = padding), left or right padding. Undefined means no padding.
  // Position ids are derived from it as transformers' generate() does: position = (number of tokens up to and
  // including this one) − 1, so a left-padded sequence starts at position 0 like an unpadded one. With a
  // cache, the mask covers the new tokens only (the cache keeps the earlier ones).
  at::Tensor attention_mask;
  // When set, attention also sees the cached positions and the new keys/values are appended to the cache.
  KvCache* cache = nullptr;
  // Fill CausalLmOutput::hidden_states.
  bool output_hidden_states = false;
};

struct CausalLmOutput {
  at::Tensor logits;  // [batch, seq, vocab], fp32
  // With output_hidden_states (transformers' convention): num_hidden_layers + 1 tensors [batch, seq, hidden]:
  // the embedding output, then each layer's output, the last one after the final norm.
  std::vector<at::Tensor> hidden_states;
};

// A decoder-only transformer. Parameters are fp32 unless converted with to(dtype); the module follows
// torch::nn::Module conventions (to(device), train()/eval(): dropout applies in training mode only).
class CausalLm : public torch::nn::Module {
 public:
  const CausalLmConfig& config() const { return config_; }

  // input_ids [batch, seq] integer token ids in [0, vocab_size). Throws ladle::Error for bad shapes, ids, masks
  // or a sequence longer than the model allows.
  virtual CausalLmOutput forward(const at::Tensor& input_ids, const ForwardOptions& options = {}) = 0;

  // HF-style initialisation from a seeded CPU generator (so it is the same on every device), module by module
  // in registration order: weights and embeddings ~ N(0, initializer_range²) (GPT-2's c_proj weights with std
  // initializer_range/√(2·layers), as GPT2PreTrainedModel._init_weights does), biases 0, norm weights at the
  // identity (1; 0 for Gemma's (1 + weight) norms).
  // LoRA adapters are left as they are.
  void reset_parameters(std::uint64_t seed);

  // The parameters under their exact Hugging Face names and layouts, in registration order (the order
  // transformers' state_dict() lists them); lm_head.weight is absent when embeddings are tied, and LoRA
  // adapters are left out. The tensors share storage with the live parameters (detached).
  NamedTensors hf_state_dict() const;

  // Copies a Hugging Face state dict into the parameters (converting dtype and device). Every parameter must be
  // present with its exact shape, and every tensor must be a parameter, except buffers transformers saves
  // alongside them (GPT-2's attn.bias / attn.masked_bias, older Llama's rotary_emb.inv_freq) and a tied
  // lm_head.weight equal to the embedding. Nothing is copied unless everything checks out; otherwise throws
  // ladle::Error starting with `source` and naming the missing, unexpected and mis-shaped tensors.
  void load_hf_state_dict(const NamedTensors& tensors, const std::string& source = "state dict");

  // Every dense layer by its Hugging Face module name ("model.layers.0.self_attn.q_proj"), in order.
  std::vector<std::pair<std::string, std::shared_ptr<Projection>>> named_projections() const;

  // Device and dtype of the parameters.
  at::Device device() const;
  at::ScalarType parameter_dtype() const;

 protected:
  explicit CausalLm(CausalLmConfig config);

  // Checkpoint names that are not parameters and are ignored on load.
  virtual bool is_checkpoint_buffer(const std::string& name) const = 0;
  // Names as this model expects them (GPT-2 checkpoints saved from GPT2Model lack the "transformer." prefix).
  virtual NamedTensors with_canonical_names(const NamedTensors& tensors) const { return tensors; }
  // The name of the token embedding that a tied lm_head shares.
  virtual std::string embedding_name() const = 0;
  // Standard deviation of the initial weights of the dense layer or embedding with this module name.
  virtual double initial_weight_std(const std::string& module_name) const;

 private:
  CausalLmConfig config_;
};

}  // namespace ladle::model
