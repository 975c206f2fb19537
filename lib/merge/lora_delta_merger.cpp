#include "lib/merge/lora_delta_merger.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "lib/log/log.h"
#include "lib/merge/merge_executor.h"
#include "lib/merge/merge_method_registry.h"
#include "lib/merge/parameter_settings_check.h"
#include "lib/merge/tensor_names.h"
#include "lib/model/error_text.h"
#include "lib/util/error.h"
#include "lib/util/shape_text.h"

namespace ladle::merge {
namespace {

std::string quoted(const LoraMergeAdapter& adapter) { return "'" + adapter.path.string() + "'"; }

// Merging in ΔW space covers the weight updates of Linear layers (with any per-module r, α and scale); the other
// parts of a PEFT adapter have no ΔW to merge, or (embeddings) no place in the re-factorised output adapter.
void require_weight_updates_only(const LoraMergeAdapter& entry) {
  const auto refuse = [&](const std::string& key) {
    throw Error("merging adapters in ΔW space does not take " + key +
                "; merge this adapter into its base with `ladle merge lora` first");
  };
  if (!saved_module_tensors(entry.adapter, entry.path.string()).empty()) refuse("modules_to_save tensors");
  for (const auto& module : entry.modules) {
    if (module.bias.defined()) refuse("lora_B.bias (lora_bias), here of module '" + module.name + "'");
    if (module.embedding) refuse("lora_embedding_A/B, here of module '" + module.name + "'");
  }
}

// The modules of `adapter` that `other` lacks.
std::vector<std::string> modules_missing_from(const LoraMergeAdapter& adapter, const LoraMergeAdapter& other) {
  std::set<std::string> present;
  for (const auto& module : other.modules) present.insert(module.name);
  std::vector<std::string> missing;
  for (const auto& module : adapter.modules) {
    if (!present.count(module.name)) missing.push_back(module.name);
  }
  return missing;
}

using ParameterSpecs = std::map<std::string, ParameterSpec>;

// Refuses parameters the method does not declare, and method-wide ones under models[i].parameters.
// Where a gradient is evaluated for a module's weight: layer k of n at k/(n−1) (1 when n = 1), as mergekit's
// slices; outside the layers, 0 before them (embeddings) and 1 after (lm_head).
double layer_position(const std::string& weight, std::int64_t layer_count) {
  if (const auto layer = parse_layer_tensor_name(weight)) {
    return layer_count > 1 ? static_cast<double>(layer->index) / static_cast<double>(layer_count - 1) : 1.0;
  }
  return is_pre_layer_tensor(weight) ? 0.0 : 1.0;
}

// A parameter's value for one weight: the adapter's own settings (per-model parameters), then the top-level
// ones (a level whose filters all miss falls through), then the method's default.
std::optional<double> resolve(const ParameterSpec& spec, const ParameterSettings* own, const MergeConfig& config,
                              const std::string& weight, double t) {
  for (const ParameterSettings* settings : {own, &config.parameters}) {
    if (settings == nullptr) continue;
    const auto found = settings->find(spec.name);
    if (found == settings->end()) continue;
    if (const auto value = found->second.evaluate(weight, t)) return value;
  }
  return spec.default_value;
}

const LoraModule& find_module(const LoraMergeAdapter& adapter, const std::string& name) {
  for (const auto& module : adapter.modules) {
    if (module.name == name) return module;
  }
  throw Error(adapter.label + ": the adapter has no module '" + name + "'");
}

}  // namespace

LoraDeltaMerger::LoraDeltaMerger(const MergeConfig& config, std::uint64_t seed) : seed_(seed) {
  try {
    method_ = &find_merge_method(config.merge_method);
  } catch (const Error& e) {
    throw Error(config.where(config.merge_method_line) + ": merge_method: " + e.what());
  }
  check_config(config);
  working_dtype_ = config.dtype.value_or(c10::kFloat);
  read_adapters(config);
  check_agreement();
  resolve_parameters(config);
}

void LoraDeltaMerger::check_config(const MergeConfig& config) const {
  if (config.models.empty()) {
    throw Error(config.where(0) + ": slices: adapters are merged whole; list them under 'models'");
  }
  if (config.tokenizer) {
    throw Error(config.where(config.tokenizer->line) + ": " + config.tokenizer->key +
                ": an adapter merge copies the tokenizer of the base model (base_model or "
                "--full-model); remove the key");
  }
  for (const auto& source : config.models) {
    if (source.fisher) {
      throw Error(config.where(source.fisher->line) + ": " + source.key_path +
                  ".fisher: adapter merges read no Fisher information; remove the key");
    }
  }
  if (method_->needs_model_fishers({})) {
    throw Error(config.where(config.merge_method_line) + ": merge_method " + method_->name() +
                ": needs Fisher information of the merged tensors, which adapters do not carry");
  }
}

void LoraDeltaMerger::read_adapters(const MergeConfig& config) {
  for (const auto& source : config.models) {
    LoraMergeAdapter entry;
    entry.label = source.key_path + " (" + source.model.name + ")";
    entry.path = source.model.path;
    try {
      entry.adapter = model::read_lora_adapter(source.model.path);
      entry.modules = lora_modules(entry.adapter, source.model.path.string());
      require_weight_updates_only(entry);
    } catch (const Error& e) {
      throw Error(config.where(source.line) + ": " + entry.label + ": " + e.what());
    }
    adapters_.push_back(std::move(entry));
  }
  for (const auto& module : adapters_.front().modules) module_names_.push_back(module.name);
}

void LoraDeltaMerger::check_agreement() const {
  const LoraMergeAdapter& first = adapters_.front();
  for (std::size_t i = 1; i < adapters_.size(); ++i) {
    const LoraMergeAdapter& other = adapters_[i];
    const std::vector<std::string> lacking = modules_missing_from(first, other);
    const std::vector<std::string> extra = modules_missing_from(other, first);
    if (!lacking.empty() || !extra.empty()) {
      std::string message = "adapters " + first.label + " and " + other.label + " adapt different modules:";
      if (!lacking.empty()) message += " " + quoted(other) + " lacks " + model::name_list(lacking) + ";";
      if (!extra.empty()) message += " " + quoted(other) + " also adapts " + model::name_list(extra) + ";";
      throw Error(message + " merging in ΔW space needs the same modules in every adapter (the same target_modules)");
    }
    if (other.adapter.fan_in_fan_out != first.adapter.fan_in_fan_out) {
      throw Error("adapters " + first.label + " and " + other.label +
                  " disagree on fan_in_fan_out; they adapt different layer types");
    }
    for (const auto& name : module_names_) {
      const LoraModule& a = find_module(first, name);
      const LoraModule& b = find_module(other, name);
      if (a.delta_shape() != b.delta_shape()) {
        throw Error("module '" + name + "': ΔW = B·A is " + shape_text(b.delta_shape()) + " in " +
                    other.label + " but " + shape_text(a.delta_shape()) + " in " + first.label +
                    "; the adapters must adapt the same base model");
      }
    }
  }
}

void LoraDeltaMerger::resolve_parameters(const MergeConfig& config) {
  ParameterSpecs specs;
  for (const auto& spec : method_->parameters()) specs[spec.name] = spec;
  std::vector<std::string> warnings;
  check_parameter_settings(config, *method_, config.parameters, {"parameters"}, warnings);
  for (const auto& source : config.models) {
    check_parameter_settings(config, *method_, source.parameters,
                             {source.key_path + ".parameters", true, "model '" + source.model.name + "', "}, warnings);
  }
  for (const auto& warning : warnings) LADLE_LOG(warning) << warning;
  std::int64_t layer_count = 0;
  for (const auto& name : module_names_) {
    if (const auto layer = parse_layer_tensor_name(name + ".weight")) {
      layer_count = std::max(layer_count, layer->index + 1);
    }
  }
  for (const auto& name : module_names_) {
    const std::string weight = name + ".weight";
    const double t = layer_position(weight, layer_count);
    ModuleParameters resolved;
    resolved.per_model.resize(config.models.size());
    for (const auto& [parameter, spec] : specs) {
      if (!spec.per_model) {
        const auto value = resolve(spec, nullptr, config, weight, t);
        if (!value && spec.required) {
          throw Error(config.where(config.merge_method_line) + ": parameter '" + parameter + "' is required by " +
                      method_->name() + " but has no value for module '" + name +
                      "'; set it under the top-level parameters");
        }
        if (value) resolved.method[parameter] = *value;
        continue;
      }
      for (std::size_t i = 0; i < config.models.size(); ++i) {
        const InputSource& source = config.models[i];
        const auto value = resolve(spec, &source.parameters, config, weight, t);
        if (!value && spec.required) {
          throw Error(config.where(source.line) + ": " + adapters_[i].label + ": parameter '" + parameter +
                      "' is required by " + method_->name() + " but has no value for module '" + name +
                      "'; set it under " + source.key_path + ".parameters or the top-level parameters");
        }
        if (value) resolved.per_model[i][parameter] = *value;
      }
    }
    if (method_->needs_global_magnitude_thresholds(resolved.method)) {
      throw Error(config.where(config.merge_method_line) + ": merge_method " + method_->name() +
                  ": trimming over the whole model (global_trim) is not supported for adapter merges; trim per "
                  "module (remove global_trim)");
    }
    parameters_[name] = std::move(resolved);
  }
}

std::vector<std::int64_t> LoraDeltaMerger::delta_shape(const std::string& module) const {
  return find_module(adapters_.front(), module).delta_shape();
}

at::Tensor LoraDeltaMerger::merged_delta(const std::string& module) const {
  const ModuleParameters& parameters = parameters_.at(module);
  MethodInputs inputs;
  inputs.tensor_name = module + ".weight";
  for (const auto& adapter : adapters_) {
    inputs.models.push_back(
        lora_delta_weight(find_module(adapter, module), working_dtype_));
    inputs.model_names.push_back(adapter.path.string());
  }
  if (method_->requires_base()) inputs.base = at::zeros_like(inputs.models.front());
  inputs.model_parameters = parameters.per_model;
  inputs.parameters = parameters.method;
  inputs.working_dtype = working_dtype_;
  inputs.seed = tensor_seed(seed_, inputs.tensor_name);
  at::Tensor merged;
  try {
    merged = method_->merge(inputs);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(method_->name() + ": tensor '" + inputs.tensor_name + "': " + e.what());
  }
  if (!merged.defined() || merged.sizes() != inputs.models.front().sizes()) {
    throw Error(method_->name() + ": tensor '" + inputs.tensor_name + "': the method returned the wrong shape");
  }
  return merged.to(working_dtype_);
}

}  // namespace ladle::merge
