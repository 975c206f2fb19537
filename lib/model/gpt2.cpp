#include "lib/model/gpt2.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "lib/model/attention.h"
#include "lib/model/layers.h"
#include "lib/model/dense.h"
#include "lib/model/projection.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"

namespace ladle::model {
namespace {

at::Tensor training_dropout(const at::Tensor& x, double p, bool training) {
  return p > 0 && training ? at::dropout(x, p, true) : x;
}

// GPT2Attention: fused c_attn producing q, k, v; c_proj; dropout on probabilities and on the output.
class Gpt2Attention : public torch::nn::Module {
 public:
  explicit Gpt2Attention(const CausalLmConfig& config)
      : torch::nn::Module("GPT2Attention"),
        hidden_(config.hidden_size),
        heads_(config.num_attention_heads),
        attention_dropout_(config.attention_dropout),
        residual_dropout_(config.residual_dropout) {
    c_attn_ = register_module("c_attn", std::make_shared<Projection>(hidden_, 3 * hidden_, true, WeightLayout::in_out));
    c_proj_ = register_module("c_proj", std::make_shared<Projection>(hidden_, hidden_, true, WeightLayout::in_out));
  }

  at::Tensor forward(const at::Tensor& x, const AttentionContext& context, std::size_t layer) {
    const std::vector<at::Tensor> qkv = c_attn_->forward(x).split(hidden_, /*dim=*/2);
    const at::Tensor q = split_heads(qkv[0], heads_);
    at::Tensor k = split_heads(qkv[1], heads_);
    at::Tensor v = split_heads(qkv[2], heads_);
    if (context.cache != nullptr) std::tie(k, v) = context.cache->append(layer, k, v);
    const at::Tensor attended = attend(q, k, v, context.blocked, attention_dropout_, is_training());
    return training_dropout(c_proj_->forward(merge_heads(attended)), residual_dropout_, is_training());
  }

 private:
  std::int64_t hidden_;
  std::int64_t heads_;
  double attention_dropout_;
  double residual_dropout_;
  std::shared_ptr<Projection> c_attn_, c_proj_;
};

// GPT2MLP: c_proj(act(c_fc(x))), then dropout.
class Gpt2Mlp : public torch::nn::Module {
 public:
  explicit Gpt2Mlp(const CausalLmConfig& config)
      : torch::nn::Module("GPT2MLP"), activation_(config.hidden_act), residual_dropout_(config.residual_dropout) {
    const std::int64_t hidden = config.hidden_size, inner = config.intermediate_size;
    c_fc_ = register_module("c_fc", std::make_shared<Projection>(hidden, inner, true, WeightLayout::in_out));
    c_proj_ = register_module("c_proj", std::make_shared<Projection>(inner, hidden, true, WeightLayout::in_out));
  }

  at::Tensor forward(const at::Tensor& x) {
    return training_dropout(c_proj_->forward(activate(c_fc_->forward(x), activation_)), residual_dropout_,
                            is_training());
  }

 private:
  Activation activation_;
  double residual_dropout_;
  std::shared_ptr<Projection> c_fc_, c_proj_;
};

class Gpt2Block : public torch::nn::Module {
 public:
  explicit Gpt2Block(const CausalLmConfig& config) : torch::nn::Module("GPT2Block") {
    ln_1_ = register_module("ln_1", std::make_shared<LayerNorm>(config.hidden_size, config.norm_eps));
    attn_ = register_module("attn", std::make_shared<Gpt2Attention>(config));
    ln_2_ = register_module("ln_2", std::make_shared<LayerNorm>(config.hidden_size, config.norm_eps));
    mlp_ = register_module("mlp", std::make_shared<Gpt2Mlp>(config));
  }

  at::Tensor forward(const at::Tensor& x, const AttentionContext& context, std::size_t layer) {
    const at::Tensor h = x + attn_->forward(ln_1_->forward(x), context, layer);
    return h + mlp_->forward(ln_2_->forward(h));
  }

 private:
  std::shared_ptr<LayerNorm> ln_1_, ln_2_;
  std::shared_ptr<Gpt2Attention> attn_;
  std::shared_ptr<Gpt2Mlp> mlp_;
};

}  // namespace

// GPT2Model: token and position embeddings, the blocks and the final LayerNorm.
class Gpt2Model : public torch::nn::Module {
 public:
  explicit Gpt2Model(const CausalLmConfig& config) : torch::nn::Module("GPT2Model"), config_(config) {
    wte_ = register_module("wte", std::make_shared<Embedding>(config.vocab_size, config.hidden_size));
    wpe_ = register_module("wpe", std::make_shared<Embedding>(config.max_position_embeddings, config.hidden_size));
    auto blocks = register_module("h", std::make_shared<torch::nn::Module>("ModuleList"));
    for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) {
      blocks_.push_back(blocks->register_module(std::to_string(i), std::make_shared<Gpt2Block>(config)));
    }
    ln_f_ = register_module("ln_f", std::make_shared<LayerNorm>(config.hidden_size, config.norm_eps));
  }

  // Returns the final normed hidden states [batch, seq, hidden].
  at::Tensor forward(const at::Tensor& input_ids, const ForwardOptions& options,
                     std::vector<at::Tensor>& hidden_states) {
    const AttentionContext context =
        prepare_attention(input_ids, options, config_.vocab_size, config_.max_position_embeddings, "n_positions");
    at::Tensor h = training_dropout(wte_->forward(context.input_ids) + wpe_->forward(context.position_ids),
                                    config_.embedding_dropout, is_training());
    if (options.output_hidden_states) hidden_states.push_back(h);
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      h = blocks_[i]->forward(h, context, i);
      if (options.output_hidden_states) hidden_states.push_back(h);
    }
    h = ln_f_->forward(h);
    if (options.output_hidden_states) hidden_states.back() = h;
    return h;
  }

  const at::Tensor& embedding_weight() const { return wte_->weight(); }

 private:
  CausalLmConfig config_;
  std::shared_ptr<Embedding> wte_, wpe_;
  std::vector<std::shared_ptr<Gpt2Block>> blocks_;
  std::shared_ptr<LayerNorm> ln_f_;
};

Gpt2LmHeadModel::Gpt2LmHeadModel(const CausalLmConfig& config) : CausalLm(config) {
  if (config.family != CausalLmFamily::gpt2) throw Error("GPT2LMHeadModel cannot implement " + config.architecture);
  transformer_ = register_module("transformer", std::make_shared<Gpt2Model>(config));
  if (!config.tie_word_embeddings) {
    lm_head_ = register_module(
        "lm_head", std::make_shared<Projection>(config.hidden_size, config.vocab_size, false, WeightLayout::out_in));
  }
}

CausalLmOutput Gpt2LmHeadModel::forward(const at::Tensor& input_ids, const ForwardOptions& options) {
  CausalLmOutput output;
  const at::Tensor h = transformer_->forward(input_ids, options, output.hidden_states);
  output.logits = (lm_head_ ? lm_head_->forward(h) : dense(h, transformer_->embedding_weight())).to(at::kFloat);
  return output;
}

bool Gpt2LmHeadModel::is_checkpoint_buffer(const std::string& name) const {
  return ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias");
}

NamedTensors Gpt2LmHeadModel::with_canonical_names(const NamedTensors& tensors) const {
  if (tensors.contains("transformer.wte.weight") || !tensors.contains("wte.weight")) return tensors;
  NamedTensors renamed;
  for (const auto& [name, tensor] : tensors) {
    renamed.insert(starts_with(name, "lm_head.") ? name : "transformer." + name, tensor);
  }
  return renamed;
}

double Gpt2LmHeadModel::initial_weight_std(const std::string& module_name) const {
  const double std = config().initializer_range;
  return ends_with(module_name, ".c_proj") ? std / std::sqrt(2.0 * config().num_hidden_layers) : std;
}

}  // namespace ladle::model
