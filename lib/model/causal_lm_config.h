// The architecture of a causal language model, read from and written to a Hugging Face config.json.
// Torch-free: the CLI and the merge planner read configs without libtorch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ladle::model {

// The model families ladle implements. Each is one forward computation shared by several Hugging Face
// architectures.
enum class CausalLmFamily {
  // LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM: RMSNorm, rotary positions, SwiGLU,
  // GQA (Qwen3 adds an RMSNorm over each query and key head before the rotation)
  llama,
  gpt2,  // GPT2LMHeadModel: LayerNorm, learned positions, GELU (tanh) MLP, Conv1D weights stored [in, out]
  // Gemma3ForCausalLM: (1 + weight) RMSNorms before and after attention and MLP, scaled embeddings, GeGLU,
  // q/k norms, sliding-window layers interleaved with global ones
  gemma3,
};

// The hidden activation of the MLP (config.json's "hidden_act", Gemma 3's "hidden_activation" or GPT-2's
// "activation_function").
enum class Activation {
  silu,       // x·σ(x) ("silu", "swish"), gated in the Llama MLP
  gelu_tanh,  // GELU with the tanh approximation ("gelu_new", "gelu_pytorch_tanh"), gated in Gemma 3's MLP
  gelu,       // exact GELU with erf ("gelu")
};

// Llama 3.x's "rope_scaling" with "rope_type": "llama3": the rotary frequencies whose wavelength exceeds
// original_max_position_embeddings / low_freq_factor are divided by `factor`, those below
// original_max_position_embeddings / high_freq_factor are kept, and those between are interpolated smoothly
// (transformers' _compute_llama3_parameters). Defaults are Llama 3.1's values.
struct RopeScaling {
  std::string rope_type = "llama3";  // the only type ladle implements
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  std::int64_t original_max_position_embeddings = 8192;
};

// What one attention layer of Gemma 3 sees ("layer_types" entries).
inline constexpr const char* kSlidingAttention = "sliding_attention";  // the last sliding_window positions
inline constexpr const char* kFullAttention = "full_attention";        // every earlier position

// Field names and defaults follow the Llama-family config classes of transformers; GPT-2's own names are
// mapped onto them (n_embd -> hidden_size, n_layer -> num_hidden_layers, n_head -> num_attention_heads,
// n_inner -> intermediate_size, n_positions -> max_position_embeddings, layer_norm_epsilon -> norm_eps,
// attn_pdrop -> attention_dropout) and written back under GPT-2's names by to_json().
struct CausalLmConfig {
  CausalLmFamily family = CausalLmFamily::llama;
  std::string architecture = "LlamaForCausalLM";  // config.json "architectures"[0]
  std::string model_type = "llama";               // "llama", "mistral", "qwen2", "qwen3", "gemma3_text", "gpt2"
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
  // Biases of the attention projections. Llama's, Qwen3's and Gemma 3's "attention_bias" sets both; Qwen2 always
  // has q/k/v biases and no o_proj bias; Mistral has none; GPT-2 has all (as the transformers modeling code of
  // each does).
  bool attention_qkv_bias = false;
  bool attention_output_bias = false;
  bool mlp_bias = false;             // biases of the MLP projections (Llama "mlp_bias"; GPT-2 always)
  bool tie_word_embeddings = false;  // lm_head shares the token embedding (then not stored)
  // The attention window: a query sees itself and the sliding_window − 1 positions before it (transformers'
  // sliding_window_overlay: key > query − sliding_window). Gemma 3 applies it on its sliding layers. Mistral's
  // window is not applied: ladle refuses sequences longer than it (transformers versions disagree by one on
  // Mistral's extent, so only shorter ones are unambiguous).
  std::optional<std::int64_t> sliding_window;
  std::optional<RopeScaling> rope_scaling;  // null: plain rotary frequencies θ^(−2i/d)
  // Gemma 3: attention scores are scaled by query_pre_attn_scalar^−½ instead of head_dim^−½.
  std::optional<double> query_pre_attn_scalar;
  // Gemma 3: "sliding_attention" or "full_attention" per layer. Empty: from sliding_window_pattern, every
  // pattern-th layer (1-based) full and the others sliding (Gemma3TextConfig's rule, pattern 6 when absent).
  std::vector<std::string> layer_types;
  std::optional<std::int64_t> sliding_window_pattern;
  double rope_local_base_freq = 10000.0;  // Gemma 3: rotary base of the sliding layers (rope_theta: full ones)
  // Gemma 3: cap·tanh(x / cap) on the final logits and on the attention scores (before the mask), when set.
  std::optional<double> final_logit_softcapping;
  std::optional<double> attn_logit_softcapping;
  double initializer_range = 0.02;          // standard deviation of the normal initialisation
  double attention_dropout = 0.0;           // dropout on attention probabilities (training mode only)
  double residual_dropout = 0.0;            // GPT-2 resid_pdrop: dropout on each block's branch outputs
  double embedding_dropout = 0.0;           // GPT-2 embd_pdrop: dropout on token + position embeddings
  std::vector<std::int64_t> eos_token_ids;  // "eos_token_id" (one id or a list); empty when null/absent
  // Every other field of the source config.json (bos_token_id, transformers_version, ...), written back as is
  // by to_json() so that a loaded and saved model keeps them.
  nlohmann::json extra_fields = nlohmann::json::object();

  // Parses a config.json treated as hostile, with one declared schema per family (causal_lm_config.cpp): every
  // key ladle uses is type-checked and range-checked; the keys that define tensor shapes (vocab_size,
  // hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, GPT-2's n_embd, n_layer, n_head,
  // n_positions, and num_key_value_heads and head_dim where the family's default is not derived from the
  // others) are required; keys that would change the computation in ways ladle does not implement (a rope_scaling
  // other than "llama3", Qwen's use_sliding_window, GPT-2's scale_attn_by_inverse_layer_idx, ...) are refused
  // rather than ignored. The family comes from "architectures" (its first entry) or else "model_type"; they must
  // agree when both are given. Throws ladle::Error "<source>: <key>: ..." (with the line when read from a file).
  static CausalLmConfig from_json(const nlohmann::json& json, const std::string& source = "config.json");
  // The same from a config.json file, naming its lines: "model/config.json:7: hidden_size: ...".
  static CausalLmConfig from_file(const std::filesystem::path& path);
  // The same from a config.json's text; `path` names it in messages and is not read.
  static CausalLmConfig from_text(const std::string& text, const std::filesystem::path& path);

  // A config.json that transformers' AutoConfig and AutoModelForCausalLM accept for this model, with
  // extra_fields merged in and "torch_dtype" set to the given name ("float32", "bfloat16", "float16").
  nlohmann::json to_json(const std::string& torch_dtype = "float32") const;

  // Throws ladle::Error (starting with `source`) when a size is not positive, heads do not divide the hidden
  // size or key/value heads do not divide the heads, a probability is outside [0, 1), and so on.
  void validate(const std::string& source = "config") const;

  std::int64_t key_value_heads() const { return num_key_value_heads.value_or(num_attention_heads); }
  std::int64_t attention_head_dim() const { return head_dim.value_or(hidden_size / num_attention_heads); }
  bool is_gpt2() const { return family == CausalLmFamily::gpt2; }
  // Qwen3 and Gemma 3 normalise each query and key head (q_norm, k_norm) before the rotation.
  bool has_query_key_norm() const { return model_type == "qwen3" || family == CausalLmFamily::gemma3; }
  // Gemma 3: whether layer `layer` attends within the sliding window (layer_types, else the pattern).
  bool is_sliding_layer(std::int64_t layer) const;
  // The factor of q·kᵀ: query_pre_attn_scalar^−½ when set, else head_dim^−½.
  double attention_scale() const;

  // transformers' defaults for each architecture (LlamaConfig(), GPT2Config(), ...), to start from in code.
  // Throws ladle::Error listing the supported architectures for any other name.
  static CausalLmConfig defaults_for(const std::string& architecture);
};

// "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma3ForCausalLM, GPT2LMHeadModel".
std::string supported_architectures();

}  // namespace ladle::model
