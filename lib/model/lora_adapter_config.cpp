#include "lib/model/lora_adapter_config.h"

#include <cmath>
#include <functional>
#include <optional>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "lib/io/strict_json.h"
#include "lib/text/oniguruma_regex.h"
#include "lib/util/error.h"

namespace ladle::model {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// Real adapter configs nest two levels (rank_pattern, alpha_pattern).
constexpr std::size_t kMaxConfigDepth = 16;

// PEFT's get_pattern_key (peft/utils/other.py): re.match(rf"(.*\.)?({key})$", module), in Python's syntax.
text::OnigurumaRegex pattern_regex(const std::string& key, const std::string& where) {
  return text::OnigurumaRegex("(.*\\.)?(" + key + ")$", where, text::RegexSyntax::python);
}

// PEFT writes integral alphas as JSON integers (LoraConfig.lora_alpha is an int).
json alpha_json(double alpha) {
  if (alpha == std::floor(alpha) && std::abs(alpha) < 1e15) return static_cast<std::int64_t>(alpha);
  return alpha;
}

std::optional<std::int64_t> rank_value(const ordered_json& value) {
  if (!value.is_number_integer() || value.get<std::int64_t>() <= 0 || value.get<std::int64_t>() > kMaxLoraRank) {
    return std::nullopt;
  }
  return value.get<std::int64_t>();
}

std::optional<double> alpha_value(const ordered_json& value) {
  if (!value.is_number() || !std::isfinite(value.get<double>())) return std::nullopt;
  return value.get<double>();
}

// adapter_config.json's plain fields -> `config`, refusing what ladle would otherwise silently misapply.
void read_fields(const json& root, const std::string& source, LoraAdapterConfig& config) {
  if (!root.is_object()) throw Error(source + ": expected a JSON object");
  const auto field = [&](const char* name) -> const json* {
    const auto found = root.find(name);
    return found == root.end() || found->is_null() ? nullptr : &*found;
  };
  const auto fail = [&](const char* name, const std::string& expected) {
    const json* value = field(name);
    throw Error(source + ": field '" + name + "': expected " + expected + ", got " +
                (value == nullptr ? std::string("nothing") : io::quote_for_message(value->dump())));
  };
  const json* peft_type = field("peft_type");
  if (peft_type == nullptr || *peft_type != "LORA") fail("peft_type", "\"LORA\"");
  // PEFT's LoraConfig defaults for absent fields.
  config.options.r = 8;
  if (const json* r = field("r")) {
    if (!rank_value(*r)) fail("r", "a positive integer up to " + std::to_string(kMaxLoraRank));
    config.options.r = r->get<std::int64_t>();
  }
  config.options.alpha = 8;
  if (const json* alpha = field("lora_alpha")) {
    if (!alpha_value(*alpha)) fail("lora_alpha", "a number");
    config.options.alpha = alpha->get<double>();
  }
  config.options.dropout = 0;
  if (const json* dropout = field("lora_dropout")) {
    if (!dropout->is_number() || !(dropout->get<double>() >= 0 && dropout->get<double>() < 1)) {
      fail("lora_dropout", "a number in [0, 1)");
    }
    config.options.dropout = dropout->get<double>();
  }
  const json* targets = field("target_modules");
  if (targets == nullptr || !targets->is_array() || targets->empty()) {
    fail("target_modules", "a non-empty list of module names (a regular expression is not supported)");
  }
  config.options.target_modules.clear();
  for (const auto& target : *targets) {
    if (!target.is_string() || target.get<std::string>().empty()) fail("target_modules", "a list of module names");
    config.options.target_modules.push_back(target.get<std::string>());
  }
  const auto flag = [&](const char* name, bool& value) {
    value = false;
    if (const json* given = field(name)) {
      if (!given->is_boolean()) fail(name, "true or false");
      value = given->get<bool>();
    }
  };
  flag("fan_in_fan_out", config.fan_in_fan_out);
  flag("use_rslora", config.use_rslora);
  flag("lora_bias", config.lora_bias);
  config.base_model_name_or_path.clear();
  if (const json* base = field("base_model_name_or_path")) {
    if (!base->is_string()) fail("base_model_name_or_path", "a string");
    config.base_model_name_or_path = base->get<std::string>();
  }
  if (const json* bias = field("bias"); bias != nullptr && *bias != "none") {
    fail("bias", "\"none\" (trained biases are not supported)");
  }
  if (const json* task = field("task_type"); task != nullptr && *task != "CAUSAL_LM") {
    fail("task_type", "\"CAUSAL_LM\"");
  }
  if (const json* dora = field("use_dora"); dora != nullptr && *dora != false)
    fail("use_dora", "false (not supported)");
  if (field("layers_to_transform") != nullptr) fail("layers_to_transform", "null (not supported)");
  config.modules_to_save.clear();
  if (const json* saved = field("modules_to_save")) {
    if (!saved->is_array()) fail("modules_to_save", "a list of module names or null");
    for (const auto& module : *saved) {
      if (!module.is_string() || module.get<std::string>().empty()) fail("modules_to_save", "a list of module names");
      config.modules_to_save.push_back(module.get<std::string>());
    }
  }
}

// rank_pattern or alpha_pattern, in the file's order (PEFT takes the first matching key; nlohmann::json would
// sort them), each key a valid regular expression and each value as `read` accepts it.
template <class Value>
std::vector<std::pair<std::string, Value>> read_patterns(
    const ordered_json& root, const char* name, const std::string& source,
    const std::function<std::optional<Value>(const ordered_json&)>& read, const std::string& expected) {
  std::vector<std::pair<std::string, Value>> patterns;
  const auto found = root.find(name);
  if (found == root.end() || found->is_null()) return patterns;
  if (!found->is_object()) throw Error(source + ": field '" + name + "': expected an object {pattern: value}");
  for (const auto& [key, value] : found->items()) {
    const std::string where = source + ": field '" + name + "': " + io::quote_for_message(key);
    const std::optional<Value> read_value = read(value);
    if (!read_value) throw Error(where + ": expected " + expected + ", got " + io::quote_for_message(value.dump()));
    pattern_regex(key, where);
    patterns.emplace_back(key, *read_value);
  }
  return patterns;
}

template <class Value>
ordered_json patterns_json(const std::vector<std::pair<std::string, Value>>& patterns) {
  ordered_json object = ordered_json::object();
  for (const auto& [key, value] : patterns) {
    if constexpr (std::is_integral_v<Value>) {
      object[key] = value;
    } else {
      object[key] = alpha_json(value);
    }
  }
  return object;
}

}  // namespace

bool LoraAdapterConfig::operator==(const LoraAdapterConfig& other) const {
  // options.seed is not part of the file.
  return options.r == other.options.r && options.alpha == other.options.alpha &&
         options.dropout == other.options.dropout && options.target_modules == other.options.target_modules &&
         fan_in_fan_out == other.fan_in_fan_out && base_model_name_or_path == other.base_model_name_or_path &&
         rank_pattern == other.rank_pattern && alpha_pattern == other.alpha_pattern &&
         modules_to_save == other.modules_to_save && lora_bias == other.lora_bias && use_rslora == other.use_rslora;
}

LoraAdapterConfig parse_lora_adapter_config(const std::string& text, const std::string& source) {
  LoraAdapterConfig config;
  read_fields(io::parse_json_strict(text, source, kMaxConfigDepth), source, config);
  const auto root = ordered_json::parse(text);  // valid: parse_json_strict accepted it
  config.rank_pattern = read_patterns<std::int64_t>(root, "rank_pattern", source, rank_value,
                                                    "a rank from 1 to " + std::to_string(kMaxLoraRank));
  config.alpha_pattern = read_patterns<double>(root, "alpha_pattern", source, alpha_value, "a finite number");
  return config;
}

std::string lora_adapter_config_json(const LoraAdapterConfig& config) {
  const ordered_json root = {
      {"alpha_pattern", patterns_json(config.alpha_pattern)},
      {"auto_mapping", nullptr},
      {"base_model_name_or_path", config.base_model_name_or_path},
      {"bias", "none"},
      {"fan_in_fan_out", config.fan_in_fan_out},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"layers_pattern", nullptr},
      {"layers_to_transform", nullptr},
      {"lora_alpha", alpha_json(config.options.alpha)},
      {"lora_bias", config.lora_bias},
      {"lora_dropout", config.options.dropout},
      {"modules_to_save",
       config.modules_to_save.empty() ? ordered_json(nullptr) : ordered_json(config.modules_to_save)},
      {"peft_type", "LORA"},
      {"r", config.options.r},
      {"rank_pattern", patterns_json(config.rank_pattern)},
      {"revision", nullptr},
      {"target_modules", config.options.target_modules},
      {"task_type", "CAUSAL_LM"},
      {"use_rslora", config.use_rslora},
  };
  return root.dump(2) + "\n";
}

void validate_lora_options(const LoraOptions& options, const std::string& source) {
  if (options.r <= 0) throw Error(source + ": LoRA rank r must be positive, got " + std::to_string(options.r));
  if (!std::isfinite(options.alpha)) throw Error(source + ": lora_alpha must be a finite number");
  if (!(options.dropout >= 0 && options.dropout < 1)) {
    throw Error(source + ": lora_dropout must be in [0, 1), got " + std::to_string(options.dropout));
  }
  if (options.target_modules.empty()) throw Error(source + ": target_modules is empty");
  for (const auto& target : options.target_modules) {
    if (target.empty()) throw Error(source + ": target_modules holds an empty name");
  }
}

template <class Value>
const Value* pattern_value(const std::vector<std::pair<std::string, Value>>& patterns, const std::string& module) {
  for (const auto& [key, value] : patterns) {
    if (pattern_regex(key, "LoRA pattern " + io::quote_for_message(key)).matches_at_start(module)) return &value;
  }
  return nullptr;
}

template const std::int64_t* pattern_value(const std::vector<std::pair<std::string, std::int64_t>>&,
                                           const std::string&);
template const double* pattern_value(const std::vector<std::pair<std::string, double>>&, const std::string&);

void require_plain_lora_adapter(const LoraAdapterConfig& config, const std::string& use) {
  const auto refuse = [&](const std::string& key) {
    throw Error("LoRA adapter: " + use + " does not apply PEFT's '" + key + "' (`ladle merge lora` does)");
  };
  if (!config.rank_pattern.empty()) refuse("rank_pattern");
  if (!config.alpha_pattern.empty()) refuse("alpha_pattern");
  if (!config.modules_to_save.empty()) refuse("modules_to_save");
  if (config.lora_bias) refuse("lora_bias");
  if (config.use_rslora) refuse("use_rslora");
}

}  // namespace ladle::model
