#include "lib/merge/lora_delta.h"

#include <ATen/ATen.h>

#include <map>

#include "lib/util/error.h"
#include "lib/util/shape_text.h"
#include "lib/util/string_affixes.h"

namespace ladle::merge {
namespace {

// PEFT's tensor names: base_model.model.<module>.lora_A.weight and .lora_B.weight.
const std::string kPrefix = "base_model.model.";
const std::string kLoraA = ".lora_A.weight";
const std::string kLoraB = ".lora_B.weight";

}  // namespace

std::vector<LoraModule> lora_modules(const model::LoraAdapter& adapter, const std::string& label) {
  std::vector<std::string> order;
  std::map<std::string, LoraModule> modules;
  for (const auto& [name, tensor] : adapter.tensors) {
    const bool is_a = ends_with(name, kLoraA), is_b = ends_with(name, kLoraB);
    if (!starts_with(name, kPrefix) || (!is_a && !is_b)) {
      throw Error(label + ": tensor '" + name + "' is not named " + kPrefix + "<module>" + kLoraA + " or " + kLoraB);
    }
    const std::string module = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kLoraA.size());
    if (!at::isFloatingType(tensor.scalar_type())) {
      throw Error(label + ": tensor '" + name + "' is not floating-point");
    }
    if (tensor.dim() != 2) {
      throw Error(label + ": tensor '" + name + "' has shape " + shape_text(tensor.sizes()) +
                  ", expected a matrix");
    }
    LoraModule& entry = modules[module];
    if (entry.name.empty()) {
      entry.name = module;
      order.push_back(module);
    }
    (is_a ? entry.a : entry.b) = tensor;
  }
  std::vector<LoraModule> result;
  for (const auto& [module, entry] : modules) {
    if (!entry.a.defined() || !entry.b.defined()) {
      throw Error(label + ": module '" + module + "' has " +
                  (entry.a.defined() ? "lora_A but no lora_B" : "lora_B but no lora_A"));
    }
    const std::int64_t r = adapter.options.r;
    if (entry.a.size(0) != r || entry.b.size(1) != r) {
      throw Error(label + ": module '" + module + "': lora_A " + shape_text(entry.a.sizes()) + " and lora_B " +
                  shape_text(entry.b.sizes()) +
                  " are not [r, in] and [out, r] with the config's r = " + std::to_string(r));
    }
  }
  for (const auto& module : order) result.push_back(modules.at(module));
  if (result.empty()) throw Error(label + ": the adapter has no lora_A/lora_B tensors");
  return result;
}

double lora_scale(const model::LoraAdapter& adapter) {
  return adapter.options.alpha / static_cast<double>(adapter.options.r);
}

at::Tensor lora_delta_weight(const LoraModule& module, double scale, c10::ScalarType dtype) {
  return at::matmul(module.b.to(dtype), module.a.to(dtype)).mul_(scale);
}

}  // namespace ladle::merge
