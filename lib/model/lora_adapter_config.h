// A LoRA adapter's adapter_config.json: PEFT's LoraConfig as save_pretrained writes it (peft/tuners/lora/config.py),
// read as a hostile file and written back. Torch-free (the adapter's tensors are lib/model/lora.h's), so the reader
// and its fuzz target build without libtorch.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ladle::model {

struct LoraOptions {
  std::int64_t r = 8;    // rank of the update B·A
  double alpha = 16;     // the update is scaled by alpha / r (PEFT's lora_alpha)
  double dropout = 0.0;  // dropout on the adapter's input, training mode only (PEFT's lora_dropout)
  // Dense layers to adapt, matched as PEFT matches a list: a module whose Hugging Face name equals an entry or
  // ends with "." + entry ("q_proj", "self_attn.v_proj", "c_attn", "lm_head").
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  std::uint64_t seed = 0;  // seeds A's initialisation (not part of the saved adapter)
};

// What adapter_config.json holds.
struct LoraAdapterConfig {
  LoraOptions options;                  // r, alpha, dropout, target_modules
  bool fan_in_fan_out = false;          // the adapted weights are stored [in, out] (GPT-2's Conv1D)
  std::string base_model_name_or_path;  // informational, as PEFT records it
  // PEFT's options beyond plain LoRA, which ladle applies when merging an adapter into its base (lib/merge/
  // lora_delta.h) but not when training or loading one into a live model (require_plain_lora_adapter):
  // rank_pattern / alpha_pattern: per-module r and lora_alpha, pattern -> value in the file's order;
  std::vector<std::pair<std::string, std::int64_t>> rank_pattern;
  std::vector<std::pair<std::string, double>> alpha_pattern;
  std::vector<std::string> modules_to_save;  // modules stored whole ("base_model.model.<module>.weight")
  bool lora_bias = false;                    // lora_B has a bias ("<module>.lora_B.bias"), PEFT's lora_bias
  bool use_rslora = false;                   // scale α/√r (Kalajdzievski 2023, rank-stabilised LoRA) instead of α/r

  bool operator==(const LoraAdapterConfig& other) const;
};

// The largest rank r (and rank_pattern value) a config may give: far above any real adapter's, and a bound on the
// factors' sizes before any tensor is read.
inline constexpr std::int64_t kMaxLoraRank = std::int64_t{1} << 20;

// Parses adapter_config.json's text; `source` names the file in messages. Besides malformed JSON, duplicate keys
// and nesting deeper than 16 levels, throws ladle::Error naming the file and field for: peft_type other than
// "LORA", r outside [1, kMaxLoraRank], a lora_alpha that is not finite, lora_dropout outside [0, 1), an empty or
// non-list target_modules (a regular expression is not supported), options ladle does not implement (use_dora,
// layers_to_transform, bias other than "none", task_type other than "CAUSAL_LM"), rank_pattern / alpha_pattern
// values that are not a rank (r) or finite (alpha), and patterns that are not valid regular expressions.
LoraAdapterConfig parse_lora_adapter_config(const std::string& text, const std::string& source);

// adapter_config.json's text for `config`: every field of PEFT's LoraConfig that matters for loading, PEFT's
// defaults for the rest, patterns in their order. parse_lora_adapter_config reads it back equal.
std::string lora_adapter_config_json(const LoraAdapterConfig& config);

// Throws ladle::Error naming `source` when options are out of range (r not positive, alpha not finite, dropout
// outside [0, 1), no or an empty target module).
void validate_lora_options(const LoraOptions& options, const std::string& source);

// The first key of `patterns` (file order) whose regex matches the whole module name as "(.*\.)?(KEY)", as PEFT's
// get_pattern_key (peft/utils/other.py) picks the rank_pattern / alpha_pattern entry of a module.
template <class Value>
const Value* pattern_value(const std::vector<std::pair<std::string, Value>>& patterns, const std::string& module);

// Throws ladle::Error naming the first PEFT option of `config` beyond plain LoRA (rank_pattern, alpha_pattern,
// modules_to_save, lora_bias, use_rslora) and `use`, what cannot apply it.
void require_plain_lora_adapter(const LoraAdapterConfig& config, const std::string& use);

}  // namespace ladle::model
