#include "lib/model/lora.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <system_error>

#include "lib/io/atomic_file.h"
#include "lib/io/safetensors_reader.h"
#include "lib/io/safetensors_writer.h"
#include "lib/log/log.h"
#include "lib/model/causal_lm.h"
#include "lib/model/error_text.h"
#include "lib/io/json_file.h"
#include "lib/io/text_file.h"
#include "lib/model/projection.h"
#include "lib/util/error.h"
#include "lib/util/shape_text.h"
#include "lib/util/string_affixes.h"

namespace ladle::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kPeftPrefix = "base_model.model.";
constexpr const char* kLoraA = ".lora_A.weight";
constexpr const char* kLoraB = ".lora_B.weight";
constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr std::size_t kMaxConfigDepth = 16;

// PEFT's check_target_module_exists for a list of targets.
bool matches_target(const std::string& module, const std::string& target) {
  return module == target || ends_with(module, "." + target);
}

void validate(const LoraOptions& options, const std::string& source) {
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

std::vector<std::shared_ptr<Projection>> adapted_projections(const CausalLm& model,
                                                             std::vector<std::string>* names = nullptr) {
  std::vector<std::shared_ptr<Projection>> adapted;
  for (const auto& [name, projection] : model.named_projections()) {
    if (!projection->has_lora()) continue;
    adapted.push_back(projection);
    if (names != nullptr) names->push_back(name);
  }
  return adapted;
}

// PEFT writes integral alphas as JSON integers (LoraConfig.lora_alpha is an int).
json alpha_json(double alpha) {
  if (alpha == std::floor(alpha) && std::abs(alpha) < 1e15) return static_cast<std::int64_t>(alpha);
  return alpha;
}

// adapter_config.json -> LoraAdapter fields, refusing what ladle would otherwise silently misapply.
void parse_adapter_config(const json& config, const std::string& source, LoraAdapter& adapter) {
  if (!config.is_object()) throw Error(source + ": expected a JSON object");
  const auto field = [&](const char* name) -> const json* {
    const auto found = config.find(name);
    return found == config.end() || found->is_null() ? nullptr : &*found;
  };
  const auto fail = [&](const char* name, const std::string& expected) {
    const json* value = field(name);
    throw Error(source + ": field '" + name + "': expected " + expected + ", got " +
                (value == nullptr ? std::string("nothing") : value->dump()));
  };
  const json* peft_type = field("peft_type");
  if (peft_type == nullptr || *peft_type != "LORA") fail("peft_type", "\"LORA\"");
  // PEFT's LoraConfig defaults for absent fields.
  adapter.options.r = 8;
  if (const json* r = field("r")) {
    if (!r->is_number_integer() || r->get<std::int64_t>() <= 0 || r->get<std::int64_t>() > (1 << 20)) {
      fail("r", "a positive integer");
    }
    adapter.options.r = r->get<std::int64_t>();
  }
  adapter.options.alpha = 8;
  if (const json* alpha = field("lora_alpha")) {
    if (!alpha->is_number() || !std::isfinite(alpha->get<double>())) fail("lora_alpha", "a number");
    adapter.options.alpha = alpha->get<double>();
  }
  adapter.options.dropout = 0;
  if (const json* dropout = field("lora_dropout")) {
    if (!dropout->is_number() || !(dropout->get<double>() >= 0 && dropout->get<double>() < 1)) {
      fail("lora_dropout", "a number in [0, 1)");
    }
    adapter.options.dropout = dropout->get<double>();
  }
  const json* targets = field("target_modules");
  if (targets == nullptr || !targets->is_array() || targets->empty()) {
    fail("target_modules", "a non-empty list of module names (a regular expression is not supported)");
  }
  adapter.options.target_modules.clear();
  for (const auto& target : *targets) {
    if (!target.is_string() || target.get<std::string>().empty()) fail("target_modules", "a list of module names");
    adapter.options.target_modules.push_back(target.get<std::string>());
  }
  adapter.fan_in_fan_out = false;
  if (const json* fan_in_fan_out = field("fan_in_fan_out")) {
    if (!fan_in_fan_out->is_boolean()) fail("fan_in_fan_out", "true or false");
    adapter.fan_in_fan_out = fan_in_fan_out->get<bool>();
  }
  adapter.base_model_name_or_path.clear();
  if (const json* base = field("base_model_name_or_path")) {
    if (!base->is_string()) fail("base_model_name_or_path", "a string");
    adapter.base_model_name_or_path = base->get<std::string>();
  }
  if (const json* bias = field("bias"); bias != nullptr && *bias != "none") {
    fail("bias", "\"none\" (trained biases are not supported)");
  }
  if (const json* task = field("task_type"); task != nullptr && *task != "CAUSAL_LM") {
    fail("task_type", "\"CAUSAL_LM\"");
  }
  if (const json* dora = field("use_dora"); dora != nullptr && *dora != false) fail("use_dora", "false (not supported)");
  for (const auto& [name, flag] : {std::pair{"use_rslora", &adapter.use_rslora}, std::pair{"lora_bias", &adapter.lora_bias}}) {
    *flag = false;
    if (const json* value = field(name)) {
      if (!value->is_boolean()) fail(name, "true or false");
      *flag = value->get<bool>();
    }
  }
  if (field("layers_to_transform") != nullptr) fail("layers_to_transform", "null (not supported)");
  adapter.modules_to_save.clear();
  if (const json* saved = field("modules_to_save")) {
    if (!saved->is_array()) fail("modules_to_save", "a list of module names or null");
    for (const auto& module : *saved) {
      if (!module.is_string() || module.get<std::string>().empty()) fail("modules_to_save", "a list of module names");
      adapter.modules_to_save.push_back(module.get<std::string>());
    }
  }
}

// A pattern's regex, as PEFT matches it: the whole module name against "(.*\.)?(KEY)".
std::regex pattern_regex(const std::string& key) { return std::regex("(.*\\.)?(" + key + ")"); }

// rank_pattern or alpha_pattern, in the file's order (PEFT takes the first matching key; nlohmann::json would
// sort them), each key a valid regex and each value as `read` accepts it.
template <class Value>
std::vector<std::pair<std::string, Value>> read_patterns(const nlohmann::ordered_json& config, const char* name,
                                                         const std::string& source,
                                                         const std::function<std::optional<Value>(const nlohmann::ordered_json&)>& read,
                                                         const std::string& expected) {
  std::vector<std::pair<std::string, Value>> patterns;
  const auto found = config.find(name);
  if (found == config.end() || found->is_null()) return patterns;
  if (!found->is_object()) throw Error(source + ": field '" + name + "': expected an object {pattern: value}");
  for (const auto& [key, value] : found->items()) {
    const std::optional<Value> read_value = read(value);
    if (!read_value) {
      throw Error(source + ": field '" + name + "': '" + key + "': expected " + expected + ", got " + value.dump());
    }
    try {
      pattern_regex(key);
    } catch (const std::regex_error& e) {
      throw Error(source + ": field '" + name + "': '" + key + "' is not a valid regular expression: " + e.what());
    }
    patterns.emplace_back(key, *read_value);
  }
  return patterns;
}

void parse_adapter_patterns(const std::string& text, const std::string& source, LoraAdapter& adapter) {
  const auto config = nlohmann::ordered_json::parse(text);  // already validated by the strict parser
  adapter.rank_pattern = read_patterns<std::int64_t>(
      config, "rank_pattern", source,
      [](const nlohmann::ordered_json& value) -> std::optional<std::int64_t> {
        if (!value.is_number_integer() || value.get<std::int64_t>() <= 0 || value.get<std::int64_t>() > (1 << 20)) {
          return std::nullopt;
        }
        return value.get<std::int64_t>();
      },
      "a positive integer rank");
  adapter.alpha_pattern = read_patterns<double>(
      config, "alpha_pattern", source,
      [](const nlohmann::ordered_json& value) -> std::optional<double> {
        if (!value.is_number() || !std::isfinite(value.get<double>())) return std::nullopt;
        return value.get<double>();
      },
      "a finite number");
}

}  // namespace

std::vector<std::string> add_lora_adapters(CausalLm& model, const LoraOptions& options) {
  validate(options, "LoRA options");
  if (!adapted_projections(model).empty()) throw Error("add_lora_adapters: the model already has LoRA adapters");
  const auto projections = model.named_projections();
  std::vector<std::pair<std::string, std::shared_ptr<Projection>>> selected;
  for (const auto& target : options.target_modules) {
    const bool found = std::any_of(projections.begin(), projections.end(),
                                   [&](const auto& entry) { return matches_target(entry.first, target); });
    if (!found) {
      throw Error("LoRA target_modules: '" + target + "' matches no dense layer of " + model.config().architecture +
                  " (for example '" + projections.front().first + "')");
    }
  }
  for (const auto& entry : projections) {
    const bool wanted = std::any_of(options.target_modules.begin(), options.target_modules.end(),
                                    [&](const std::string& target) { return matches_target(entry.first, target); });
    if (wanted) selected.push_back(entry);
  }
  const WeightLayout layout = selected.front().second->layout();
  for (const auto& [name, projection] : selected) {
    if (projection->layout() != layout) {
      throw Error("LoRA target_modules select both nn.Linear and Conv1D layers ('" + selected.front().first + "', '" +
                  name + "'); PEFT's single fan_in_fan_out flag cannot describe that");
    }
  }
  for (auto& parameter : model.parameters(/*recurse=*/true)) parameter.set_requires_grad(false);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  std::vector<std::string> names;
  for (const auto& [name, projection] : selected) {
    projection->add_lora(options.r, options.alpha / static_cast<double>(options.r), options.dropout, generator);
    names.push_back(name);
  }
  return names;
}

LoraAdapter lora_adapter(const CausalLm& model, const std::string& base_model_name_or_path) {
  std::vector<std::string> names;
  const auto adapted = adapted_projections(model, &names);
  if (adapted.empty()) throw Error("lora_adapter: the model has no LoRA adapters");
  LoraAdapter adapter;
  adapter.options.r = adapted.front()->lora_rank();
  adapter.options.alpha = adapted.front()->lora_scaling() * static_cast<double>(adapter.options.r);
  adapter.options.dropout = adapted.front()->lora_dropout();
  adapter.options.target_modules.clear();
  adapter.fan_in_fan_out = adapted.front()->layout() == WeightLayout::in_out;
  adapter.base_model_name_or_path = base_model_name_or_path;
  for (std::size_t i = 0; i < adapted.size(); ++i) {
    const std::string last = names[i].substr(names[i].rfind('.') + 1);
    auto& targets = adapter.options.target_modules;
    if (std::find(targets.begin(), targets.end(), last) == targets.end()) targets.push_back(last);
    adapter.tensors.insert(kPeftPrefix + names[i] + kLoraA, adapted[i]->lora_a().detach());
    adapter.tensors.insert(kPeftPrefix + names[i] + kLoraB, adapted[i]->lora_b().detach());
  }
  return adapter;
}

template <class Value>
const Value* pattern_value(const std::vector<std::pair<std::string, Value>>& patterns, const std::string& module) {
  for (const auto& [key, value] : patterns) {
    if (std::regex_match(module, pattern_regex(key))) return &value;
  }
  return nullptr;
}

template const std::int64_t* pattern_value(const std::vector<std::pair<std::string, std::int64_t>>&, const std::string&);
template const double* pattern_value(const std::vector<std::pair<std::string, double>>&, const std::string&);

void require_plain_lora_adapter(const LoraAdapter& adapter, const std::string& use) {
  const auto refuse = [&](const std::string& key) {
    throw Error("LoRA adapter: " + use + " does not apply PEFT's '" + key + "' (`ladle merge lora` does)");
  };
  if (!adapter.rank_pattern.empty()) refuse("rank_pattern");
  if (!adapter.alpha_pattern.empty()) refuse("alpha_pattern");
  if (!adapter.modules_to_save.empty()) refuse("modules_to_save");
  if (adapter.lora_bias) refuse("lora_bias");
  if (adapter.use_rslora) refuse("use_rslora");
}

void load_lora_adapter(CausalLm& model, const LoraAdapter& adapter) {
  require_plain_lora_adapter(adapter, "loading an adapter into a model to train or evaluate it");
  std::vector<bool> requires_grad;
  for (const auto& parameter : model.parameters(/*recurse=*/true)) requires_grad.push_back(parameter.requires_grad());
  const std::vector<std::string> names = add_lora_adapters(model, adapter.options);
  const auto adapted = adapted_projections(model);
  const auto remove_all = [&] {  // back to the model as it was
    for (const auto& projection : adapted) projection->remove_lora();
    auto parameters = model.parameters(/*recurse=*/true);
    for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].set_requires_grad(requires_grad[i]);
  };
  if (adapter.fan_in_fan_out != (adapted.front()->layout() == WeightLayout::in_out)) {
    // PEFT corrects this flag from the layer type too (with a warning); the tensors are the same either way.
    LADLE_LOG(warning) << "LoRA adapter: fan_in_fan_out is " << (adapter.fan_in_fan_out ? "true" : "false")
                       << " but the adapted layers of " << model.config().architecture << " say otherwise; "
                       << "using the layers' layout";
  }
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> expected;
  for (std::size_t i = 0; i < adapted.size(); ++i) {
    for (const auto& [suffix, parameter] :
         {std::pair{kLoraA, adapted[i]->lora_a()}, std::pair{kLoraB, adapted[i]->lora_b()}}) {
      const std::string name = kPeftPrefix + names[i] + suffix;
      expected.insert(name);
      if (!adapter.tensors.contains(name)) {
        missing.push_back(name);
      } else if (adapter.tensors.at(name).sizes() != parameter.sizes()) {
        mismatched.push_back("'" + name + "' has shape " + shape_text(adapter.tensors.at(name).sizes()) +
                             ", expected " + shape_text(parameter.sizes()));
      } else if (!at::isFloatingType(adapter.tensors.at(name).scalar_type())) {
        mismatched.push_back("'" + name + "' is not a floating-point tensor");
      }
    }
  }
  for (const auto& entry : adapter.tensors) {
    if (expected.count(entry.first) == 0) unexpected.push_back(entry.first);
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    remove_all();
    std::string message = "LoRA adapter does not match " + model.config().architecture + " with target_modules:";
    if (!missing.empty()) message += " missing " + name_list(missing) + ";";
    if (!unexpected.empty()) message += " unexpected " + name_list(unexpected) + ";";
    for (const auto& problem : mismatched) message += " " + problem + ";";
    message.pop_back();
    throw Error(message);
  }
  for (std::size_t i = 0; i < adapted.size(); ++i) {
    adapted[i]->set_lora_weights(adapter.tensors.at(kPeftPrefix + names[i] + kLoraA),
                                 adapter.tensors.at(kPeftPrefix + names[i] + kLoraB));
  }
}

void save_lora_adapter(const LoraAdapter& adapter, const fs::path& directory, bool overwrite) {
  validate(adapter.options, directory.string());
  // Every field of peft's LoraConfig that matters for loading, with PEFT's defaults for the rest.
  const json config = {
      {"alpha_pattern", json::object()},
      {"auto_mapping", nullptr},
      {"base_model_name_or_path", adapter.base_model_name_or_path},
      {"bias", "none"},
      {"fan_in_fan_out", adapter.fan_in_fan_out},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"layers_pattern", nullptr},
      {"layers_to_transform", nullptr},
      {"lora_alpha", alpha_json(adapter.options.alpha)},
      {"lora_dropout", adapter.options.dropout},
      {"modules_to_save", nullptr},
      {"peft_type", "LORA"},
      {"r", adapter.options.r},
      {"rank_pattern", json::object()},
      {"revision", nullptr},
      {"target_modules", adapter.options.target_modules},
      {"task_type", "CAUSAL_LM"},
  };
  io::AtomicDirectory folder(directory, overwrite);
  io::write_file_atomically(folder.path() / kConfigFile, config.dump(2) + "\n");
  io::write_safetensors(folder.path() / kWeightsFile, adapter.tensors, {{"format", "pt"}});
  folder.commit();
}

LoraAdapter read_lora_adapter(const fs::path& directory) {
  const fs::path config_path = directory / kConfigFile, weights_path = directory / kWeightsFile;
  std::error_code error;
  if (!fs::is_regular_file(config_path, error)) {
    throw Error(directory.string() + ": no " + kConfigFile + "; not a PEFT adapter folder");
  }
  if (!fs::is_regular_file(weights_path, error)) {
    throw Error(directory.string() + ": no " + kWeightsFile +
                (fs::exists(directory / "adapter_model.bin", error)
                     ? " (adapter_model.bin is a pickle, which ladle does not load: unpickling can execute code)"
                     : ""));
  }
  LoraAdapter adapter;
  parse_adapter_config(io::read_json_file(config_path, kMaxConfigDepth), config_path.string(), adapter);
  parse_adapter_patterns(io::read_text_file(config_path, io::kNoSizeLimit), config_path.string(), adapter);
  const io::SafetensorsReader reader(weights_path);
  for (const auto& entry : reader.entries()) adapter.tensors.insert(entry.name, reader.tensor(entry.name));
  return adapter;
}

NamedTensors merge_lora_into_base(const NamedTensors& base, const LoraAdapter& adapter) {
  validate(adapter.options, "LoRA adapter");
  require_plain_lora_adapter(adapter, "the in-memory merge");
  const double scaling = adapter.options.alpha / static_cast<double>(adapter.options.r);
  std::map<std::string, at::Tensor> updated;  // base weight name -> merged weight
  for (const auto& [name, a] : adapter.tensors) {
    if (ends_with(name, kLoraB)) continue;
    if (!starts_with(name, kPeftPrefix) || !ends_with(name, kLoraA)) {
      throw Error("LoRA adapter: tensor '" + name + "' is not named base_model.model.<module>.lora_A/lora_B.weight");
    }
    const std::string module = name.substr(std::string(kPeftPrefix).size(),
                                           name.size() - std::string(kPeftPrefix).size() - std::string(kLoraA).size());
    const std::string b_name = kPeftPrefix + module + kLoraB, weight_name = module + ".weight";
    if (!adapter.tensors.contains(b_name)) throw Error("LoRA adapter: '" + name + "' has no '" + b_name + "'");
    if (!base.contains(weight_name)) throw Error("LoRA adapter: the base model has no '" + weight_name + "'");
    const at::Tensor& b = adapter.tensors.at(b_name);
    const at::Tensor& weight = base.at(weight_name);
    if (a.dim() != 2 || b.dim() != 2 || b.size(1) != a.size(0) || weight.dim() != 2) {
      throw Error("LoRA adapter: '" + name + "' " + shape_text(a.sizes()) + " and '" + b_name + "' " +
                  shape_text(b.sizes()) + " are not [r, in] and [out, r]");
    }
    const std::vector<std::int64_t> expected = adapter.fan_in_fan_out ? std::vector<std::int64_t>{a.size(1), b.size(0)}
                                                                      : std::vector<std::int64_t>{b.size(0), a.size(1)};
    if (weight.sizes() != at::IntArrayRef(expected)) {
      throw Error("LoRA adapter: '" + weight_name + "' has shape " + shape_text(weight.sizes()) +
                  ", but the adapter " + "expects " + shape_text(expected) +
                  (adapter.fan_in_fan_out ? " (fan_in_fan_out)" : ""));
    }
    at::Tensor delta = at::matmul(b.to(weight.device(), at::kFloat), a.to(weight.device(), at::kFloat)) * scaling;
    if (adapter.fan_in_fan_out) delta = delta.t();
    updated[weight_name] = (weight.to(at::kFloat) + delta).to(weight.scalar_type());
  }
  for (const auto& [name, b] : adapter.tensors) {
    if (ends_with(name, kLoraB) &&
        !adapter.tensors.contains(name.substr(0, name.size() - std::string(kLoraB).size()) + kLoraA)) {
      throw Error("LoRA adapter: '" + name + "' has no matching lora_A");
    }
  }
  NamedTensors merged;
  for (const auto& [name, tensor] : base) {
    const auto found = updated.find(name);
    merged.insert(name, found == updated.end() ? tensor : found->second);
  }
  return merged;
}

void merge_lora_into_base(CausalLm& model) {
  for (const auto& projection : adapted_projections(model)) projection->merge_lora();
}

}  // namespace ladle::model
