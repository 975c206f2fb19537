// The architecture of a causal language model, read from and written to a Hugging Face config.json.
// Torch-free: the CLI and the merge planner read configs without libtorch.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ladle::model {

// The model families ladle implements. Each is one forward computation shared by several Hugging Face
// architectures.
enum class CausalLmFamily {
  llama,  // LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM: RMSNorm, rotary positions, SwiGLU, GQA
  gpt2,   // GPT2LMHeadModel: LayerNorm, learned positions, GELU (tanh) MLP, Conv1D weights stored [in, out]
};

// The hidden activation of the MLP (config.json's "hidden_act" or, for GPT-2, "activation_function").
enum class Activation {
  silu,       // x·σ(x) ("silu", "swish"), gated in the Llama MLP
  gelu_tanh,  // GELU with the tanh approximation ("gelu_new", "gelu_pytorch_tanh")
  gelu,       // exact GELU with erf ("gelu")
};

// Field names and defaults follow the Llama-family config classes of transformers; GPT-2's own names are
// mapped onto them (n_embd -> hidden_size, n_layer -> num_hidden_layers, n_head -> num_attention_heads,
// n_inner -> intermediate_size, n_positions -> max_position_embeddings, layer_norm_epsilon -> norm_eps,
// attn_pdrop -> attention_dropout) and written back under GPT-2's names by to_json().
struct CausalLmConfig {
  CausalLmFamily family = CausalLmFamily::llama;
  std::string architecture = "LlamaForCausalLM";  // config.json "architectures"[0]
  std::string model_type = "llama";               // "llama", "mistral", "qwen2" or "gpt2"
  std::int64_t vocab_size = 32000;                // rows of the token embedding and of lm_head
  std::int64_t hidden_size = 4096;                // width of the residual stream
  std::int64_t intermediate_size = 11008;         // width of the MLP's hidden layer
  std::int64_t num_hidden_layers = 32;            // decoder blocks
  std::int64_t num_attention_heads = 32;          // query heads
  // Key/value heads (grouped-query attention); null means num_attention_heads. Always null for GPT-2.
  std::optional<std::int64_t> num_key_value_heads;
  // Width of one head; null means hidden_size / num_attention_heads (which must then divide evenly).
  std::optional<std::int64_t> head_dim;
  std::int64_t max_position_embeddings = 2048;  // longest sequence (GPT-2: rows of the position table)
  double norm_eps = 1e-6;                       // RMSNorm's rms_norm_eps, LayerNorm's layer_norm_epsilon
  double rope_theta = 10000.0;                  // rotary base frequency (Llama family)
  Activation hidden_act = Activation::silu;
  // Biases of the attention projections. Llama's "attention_bias" sets both; Qwen2 always has q/k/v biases and
  // no o_proj bias; Mistral has none; GPT-2 has all (as the transformers modeling code of each does).
  bool attention_qkv_bias = false;
  bool attention_output_bias = false;
  bool mlp_bias = false;             // biases of the MLP projections (Llama "mlp_bias"; GPT-2 always)
  bool tie_word_embeddings = false;  // lm_head shares the token embedding (then not stored)
  // Mistral's attention window. ladle attends over whole sequences and refuses sequences longer than this
  // (transformers versions disagree by one on the window's extent, so only shorter ones are unambiguous).
  std::optional<std::int64_t> sliding_window;
  double initializer_range = 0.02;          // standard deviation of the normal initialisation
  double attention_dropout = 0.0;           // dropout on attention probabilities (training mode only)
  double residual_dropout = 0.0;            // GPT-2 resid_pdrop: dropout on each block's branch outputs
  double embedding_dropout = 0.0;           // GPT-2 embd_pdrop: dropout on token + position embeddings
  std::vector<std::int64_t> eos_token_ids;  // "eos_token_id" (one id or a list); empty when null/absent
  // Every other field of the source config.json (bos_token_id, transformers_version, ...), written back as is
  // by to_json() so that a loaded and saved model keeps them.
  nlohmann::json extra_fields = nlohmann::json::object();

  // Parses a config.json treated as hostile: every field ladle uses is type-checked and range-checked, and
  // fields that would change the computation in ways ladle does not implement (rope_scaling, Qwen2's
  // use_sliding_window, GPT-2's scale_attn_by_inverse_layer_idx, ...) are refused rather than ignored. The
  // family comes from "architectures" (its first entry) or else "model_type"; they must agree when both are
  // given. Throws ladle::Error starting with `source` and naming the field.
  static CausalLmConfig from_json(const nlohmann::json& json, const std::string& source = "config.json");

  // A config.json that transformers' AutoConfig and AutoModelForCausalLM accept for this model, with
  // extra_fields merged in and "torch_dtype" set to the given name ("float32", "bfloat16", "float16").
  nlohmann::json to_json(const std::string& torch_dtype = "float32") const;

  // Throws ladle::Error (starting with `source`) when a size is not positive, heads do not divide the hidden
  // size or key/value heads do not divide the heads, a probability is outside [0, 1), and so on.
  void validate(const std::string& source = "config") const;

  std::int64_t key_value_heads() const { return num_key_value_heads.value_or(num_attention_heads); }
  std::int64_t attention_head_dim() const { return head_dim.value_or(hidden_size / num_attention_heads); }
  bool is_gpt2() const { return family == CausalLmFamily::gpt2; }

  // transformers' defaults for each architecture (LlamaConfig(), GPT2Config(), ...), to start from in code.
  // Throws ladle::Error listing the supported architectures for any other name.
  static CausalLmConfig defaults_for(const std::string& architecture);
};

// "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel".
std::string supported_architectures();

}  // namespace ladle::model
