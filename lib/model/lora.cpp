#include "lib/model/lora.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <map>
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

constexpr const char* kPeftPrefix = "base_model.model.";
constexpr const char* kLoraA = ".lora_A.weight";
constexpr const char* kLoraB = ".lora_B.weight";
constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";

// PEFT's check_target_module_exists for a list of targets.
bool matches_target(const std::string& module, const std::string& target) {
  return module == target || ends_with(module, "." + target);
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

}  // namespace

std::vector<std::string> add_lora_adapters(CausalLm& model, const LoraOptions& options) {
  validate_lora_options(options, "LoRA options");
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
  validate_lora_options(adapter.options, directory.string());
  io::AtomicDirectory folder(directory, overwrite);
  io::write_file_atomically(folder.path() / kConfigFile, lora_adapter_config_json(adapter));
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
  static_cast<LoraAdapterConfig&>(adapter) =
      parse_lora_adapter_config(io::read_text_file(config_path, io::kMaxJsonFileBytes), config_path.string());
  const io::SafetensorsReader reader(weights_path);
  for (const auto& entry : reader.entries()) adapter.tensors.insert(entry.name, reader.tensor(entry.name));
  return adapter;
}

NamedTensors merge_lora_into_base(const NamedTensors& base, const LoraAdapter& adapter) {
  validate_lora_options(adapter.options, "LoRA adapter");
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
