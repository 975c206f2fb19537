#include "lib/model/rotary_causal_lm.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "lib/model/attention.h"
#include "lib/model/dense.h"
#include "lib/model/layers.h"
#include "lib/model/projection.h"
#include "lib/model/rotary_attention.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"

namespace ladle::model {
namespace {

// LlamaDecoderLayer and Gemma3DecoderLayer: the same attention and MLP, with norms before each branch (Llama) or
// on both sides of it (Gemma 3's "sandwich").
class RotaryDecoderLayer : public torch::nn::Module {
 public:
  RotaryDecoderLayer(const CausalLmConfig& config, std::int64_t layer)
      : torch::nn::Module("RotaryDecoderLayer"),
        sandwich_(config.family == CausalLmFamily::gemma3),
        sliding_(config.is_sliding_layer(layer)) {
    self_attn_ = register_module("self_attn", std::make_shared<RotaryAttention>(config));
    mlp_ = register_module("mlp", std::make_shared<GatedMlp>(config));
    std::vector<const char*> names = {"input_layernorm", "post_attention_layernorm"};
    if (sandwich_) names.insert(names.end(), {"pre_feedforward_layernorm", "post_feedforward_layernorm"});
    for (const char* name : names) {
      norms_.push_back(register_module(
          name, std::make_shared<RmsNorm>(config.hidden_size, config.norm_eps, rms_norm_weight(config))));
    }
  }

  bool sliding() const { return sliding_; }

  at::Tensor forward(const at::Tensor& x, const AttentionContext& context, const RotaryTables& rotary,
                     const at::Tensor& blocked, std::size_t layer) {
    const at::Tensor attended = self_attn_->forward(norms_[0]->forward(x), context, rotary, blocked, layer);
    if (!sandwich_) {
      const at::Tensor h = x + attended;
      return h + mlp_->forward(norms_[1]->forward(h));
    }
    const at::Tensor h = x + norms_[1]->forward(attended);
    return h + norms_[3]->forward(mlp_->forward(norms_[2]->forward(h)));
  }

 private:
  bool sandwich_;
  bool sliding_;
  std::shared_ptr<RotaryAttention> self_attn_;
  std::shared_ptr<GatedMlp> mlp_;
  // Llama: input, post-attention (before the MLP). Gemma 3: input, post-attention, pre- and post-feedforward.
  std::vector<std::shared_ptr<RmsNorm>> norms_;
};

RotaryTables rotary_tables_for(const AttentionContext& context, const CausalLmConfig& config, double theta,
                               const std::optional<RopeScaling>& scaling, const at::Tensor& like) {
  return rotary_tables(context.position_ids,
                       rotary_inverse_frequencies(config.attention_head_dim(), theta, scaling, like.device()),
                       like.scalar_type());
}

}  // namespace

// LlamaModel / Gemma3TextModel: the embedding, the decoder layers and the final norm (everything but lm_head).
class RotaryDecoderModel : public torch::nn::Module {
 public:
  explicit RotaryDecoderModel(const CausalLmConfig& config) : torch::nn::Module("RotaryDecoderModel"), config_(config) {
    embed_tokens_ = register_module("embed_tokens", std::make_shared<Embedding>(config.vocab_size, config.hidden_size));
    auto layers = register_module("layers", std::make_shared<torch::nn::Module>("ModuleList"));
    for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) {
      layers_.push_back(layers->register_module(std::to_string(i), std::make_shared<RotaryDecoderLayer>(config, i)));
    }
    norm_ = register_module("norm",
                            std::make_shared<RmsNorm>(config.hidden_size, config.norm_eps, rms_norm_weight(config)));
  }

  // Returns the final normed hidden states [batch, seq, hidden].
  at::Tensor forward(const at::Tensor& input_ids, const ForwardOptions& options,
                     std::vector<at::Tensor>& hidden_states) {
    const bool gemma = config_.family == CausalLmFamily::gemma3;
    // Mistral's window is refused rather than applied (causal_lm_config.h says why); Gemma 3's is applied.
    const AttentionContext context = prepare_attention(
        input_ids, options, config_.vocab_size, gemma ? std::nullopt : config_.sliding_window, "sliding_window",
        ": longer sequences need Mistral's sliding window, which ladle does not apply");
    at::Tensor h = embed_tokens_->forward(context.input_ids);
    // Gemma3TextScaledWordEmbedding: the scale √hidden_size is cast to the weights' dtype first (bf16 rounds it).
    if (gemma) h = h * at::scalar_tensor(std::sqrt(static_cast<double>(config_.hidden_size)), h.options());
    const RotaryTables global = rotary_tables_for(context, config_, config_.rope_theta, config_.rope_scaling, h);
    RotaryTables local;
    at::Tensor sliding_blocked;
    if (gemma) {
      local = rotary_tables_for(context, config_, config_.rope_local_base_freq, std::nullopt, h);
      sliding_blocked = sliding_window_blocked(context, *config_.sliding_window);
    }
    if (options.output_hidden_states) hidden_states.push_back(h);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const bool sliding = layers_[i]->sliding();
      h = layers_[i]->forward(h, context, sliding ? local : global, sliding ? sliding_blocked : context.blocked, i);
      if (options.output_hidden_states) hidden_states.push_back(h);
    }
    h = norm_->forward(h);
    if (options.output_hidden_states) hidden_states.back() = h;
    return h;
  }

  const at::Tensor& embedding_weight() const { return embed_tokens_->weight(); }

 private:
  CausalLmConfig config_;
  std::shared_ptr<Embedding> embed_tokens_;
  std::vector<std::shared_ptr<RotaryDecoderLayer>> layers_;
  std::shared_ptr<RmsNorm> norm_;
};

RotaryCausalLm::RotaryCausalLm(const CausalLmConfig& config) : CausalLm(config) {
  if (config.family != CausalLmFamily::llama && config.family != CausalLmFamily::gemma3) {
    throw Error("RotaryCausalLm cannot implement " + config.architecture);
  }
  model_ = register_module("model", std::make_shared<RotaryDecoderModel>(config));
  if (!config.tie_word_embeddings) {
    lm_head_ = register_module(
        "lm_head", std::make_shared<Projection>(config.hidden_size, config.vocab_size, false, WeightLayout::out_in));
  }
}

CausalLmOutput RotaryCausalLm::forward(const at::Tensor& input_ids, const ForwardOptions& options) {
  CausalLmOutput output;
  const at::Tensor h = model_->forward(input_ids, options, output.hidden_states);
  // Logits in fp32 whatever the compute dtype, as LlamaForCausalLM returns them.
  output.logits = (lm_head_ ? lm_head_->forward(h) : dense(h, model_->embedding_weight())).to(at::kFloat);
  if (config().final_logit_softcapping) output.logits = soft_cap(output.logits, *config().final_logit_softcapping);
  return output;
}

bool RotaryCausalLm::is_checkpoint_buffer(const std::string& name) const {
  // transformers before 4.31 saved the rotary inverse frequencies as a persistent buffer.
  return ends_with(name, ".self_attn.rotary_emb.inv_freq");
}

}  // namespace ladle::model
