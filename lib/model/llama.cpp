#include "lib/model/llama.h"

#include <ATen/ATen.h>

#include <vector>

#include "lib/model/attention.h"
#include "lib/model/layers.h"
#include "lib/model/dense.h"
#include "lib/model/projection.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"

namespace ladle::model {
namespace {

// LlamaAttention: q/k/v/o_proj, rotary embeddings on queries and keys, grouped-query attention.
class LlamaAttention : public torch::nn::Module {
 public:
  explicit LlamaAttention(const CausalLmConfig& config)
      : torch::nn::Module("LlamaAttention"),
        heads_(config.num_attention_heads),
        kv_heads_(config.key_value_heads()),
        dropout_(config.attention_dropout) {
    const std::int64_t hidden = config.hidden_size, dim = config.attention_head_dim();
    const bool qkv_bias = config.attention_qkv_bias;
    q_proj_ =
        register_module("q_proj", std::make_shared<Projection>(hidden, heads_ * dim, qkv_bias, WeightLayout::out_in));
    k_proj_ = register_module("k_proj",
                              std::make_shared<Projection>(hidden, kv_heads_ * dim, qkv_bias, WeightLayout::out_in));
    v_proj_ = register_module("v_proj",
                              std::make_shared<Projection>(hidden, kv_heads_ * dim, qkv_bias, WeightLayout::out_in));
    o_proj_ = register_module("o_proj", std::make_shared<Projection>(heads_ * dim, hidden, config.attention_output_bias,
                                                                     WeightLayout::out_in));
  }

  at::Tensor forward(const at::Tensor& x, const AttentionContext& context, const RotaryTables& rotary,
                     std::size_t layer) {
    const at::Tensor q = apply_rotary(split_heads(q_proj_->forward(x), heads_), rotary);
    at::Tensor k = apply_rotary(split_heads(k_proj_->forward(x), kv_heads_), rotary);
    at::Tensor v = split_heads(v_proj_->forward(x), kv_heads_);
    if (context.cache != nullptr) std::tie(k, v) = context.cache->append(layer, k, v);
    return o_proj_->forward(merge_heads(attend(q, k, v, context.blocked, dropout_, is_training())));
  }

 private:
  std::int64_t heads_;
  std::int64_t kv_heads_;
  double dropout_;
  std::shared_ptr<Projection> q_proj_, k_proj_, v_proj_, o_proj_;
};

// LlamaMLP: down_proj(act(gate_proj(x)) · up_proj(x)).
class LlamaMlp : public torch::nn::Module {
 public:
  explicit LlamaMlp(const CausalLmConfig& config) : torch::nn::Module("LlamaMLP"), activation_(config.hidden_act) {
    const std::int64_t hidden = config.hidden_size, inner = config.intermediate_size;
    gate_proj_ = register_module("gate_proj",
                                 std::make_shared<Projection>(hidden, inner, config.mlp_bias, WeightLayout::out_in));
    up_proj_ =
        register_module("up_proj", std::make_shared<Projection>(hidden, inner, config.mlp_bias, WeightLayout::out_in));
    down_proj_ = register_module("down_proj",
                                 std::make_shared<Projection>(inner, hidden, config.mlp_bias, WeightLayout::out_in));
  }

  at::Tensor forward(const at::Tensor& x) {
    return down_proj_->forward(activate(gate_proj_->forward(x), activation_) * up_proj_->forward(x));
  }

 private:
  Activation activation_;
  std::shared_ptr<Projection> gate_proj_, up_proj_, down_proj_;
};

class LlamaDecoderLayer : public torch::nn::Module {
 public:
  explicit LlamaDecoderLayer(const CausalLmConfig& config) : torch::nn::Module("LlamaDecoderLayer") {
    self_attn_ = register_module("self_attn", std::make_shared<LlamaAttention>(config));
    mlp_ = register_module("mlp", std::make_shared<LlamaMlp>(config));
    input_layernorm_ =
        register_module("input_layernorm", std::make_shared<RmsNorm>(config.hidden_size, config.norm_eps));
    post_attention_layernorm_ =
        register_module("post_attention_layernorm", std::make_shared<RmsNorm>(config.hidden_size, config.norm_eps));
  }

  at::Tensor forward(const at::Tensor& x, const AttentionContext& context, const RotaryTables& rotary,
                     std::size_t layer) {
    const at::Tensor h = x + self_attn_->forward(input_layernorm_->forward(x), context, rotary, layer);
    return h + mlp_->forward(post_attention_layernorm_->forward(h));
  }

 private:
  std::shared_ptr<LlamaAttention> self_attn_;
  std::shared_ptr<LlamaMlp> mlp_;
  std::shared_ptr<RmsNorm> input_layernorm_, post_attention_layernorm_;
};

}  // namespace

// LlamaModel: the embedding, the decoder layers and the final norm (everything but lm_head).
class LlamaModel : public torch::nn::Module {
 public:
  explicit LlamaModel(const CausalLmConfig& config) : torch::nn::Module("LlamaModel"), config_(config) {
    embed_tokens_ = register_module("embed_tokens", std::make_shared<Embedding>(config.vocab_size, config.hidden_size));
    auto layers = register_module("layers", std::make_shared<torch::nn::Module>("ModuleList"));
    for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) {
      layers_.push_back(layers->register_module(std::to_string(i), std::make_shared<LlamaDecoderLayer>(config)));
    }
    norm_ = register_module("norm", std::make_shared<RmsNorm>(config.hidden_size, config.norm_eps));
  }

  // Returns the final normed hidden states [batch, seq, hidden].
  at::Tensor forward(const at::Tensor& input_ids, const ForwardOptions& options,
                     std::vector<at::Tensor>& hidden_states) {
    const AttentionContext context =
        prepare_attention(input_ids, options, config_.vocab_size, config_.sliding_window, "sliding_window",
                          ": longer sequences need sliding-window attention, which ladle does not implement");
    at::Tensor h = embed_tokens_->forward(context.input_ids);
    const RotaryTables rotary =
        rotary_tables(context.position_ids, config_.attention_head_dim(), config_.rope_theta, h.scalar_type());
    if (options.output_hidden_states) hidden_states.push_back(h);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      h = layers_[i]->forward(h, context, rotary, i);
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
  std::vector<std::shared_ptr<LlamaDecoderLayer>> layers_;
  std::shared_ptr<RmsNorm> norm_;
};

LlamaForCausalLM::LlamaForCausalLM(const CausalLmConfig& config) : CausalLm(config) {
  if (config.family != CausalLmFamily::llama) {
    throw Error("LlamaForCausalLM cannot implement " + config.architecture);
  }
  model_ = register_module("model", std::make_shared<LlamaModel>(config));
  if (!config.tie_word_embeddings) {
    lm_head_ = register_module(
        "lm_head", std::make_shared<Projection>(config.hidden_size, config.vocab_size, false, WeightLayout::out_in));
  }
}

CausalLmOutput LlamaForCausalLM::forward(const at::Tensor& input_ids, const ForwardOptions& options) {
  CausalLmOutput output;
  const at::Tensor h = model_->forward(input_ids, options, output.hidden_states);
  // Logits in fp32 whatever the compute dtype, as LlamaForCausalLM returns them.
  output.logits = (lm_head_ ? lm_head_->forward(h) : dense(h, model_->embedding_weight())).to(at::kFloat);
  return output;
}

bool LlamaForCausalLM::is_checkpoint_buffer(const std::string& name) const {
  // transformers before 4.31 saved the rotary inverse frequencies as a persistent buffer.
  return ends_with(name, ".self_attn.rotary_emb.inv_freq");
}

}  // namespace ladle::model
