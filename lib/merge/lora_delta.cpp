#include "lib/merge/lora_delta.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <optional>

#include "lib/util/error.h"
#include "lib/util/shape_text.h"
#include "lib/util/string_affixes.h"

namespace ladle::merge {
namespace {

const std::string kPrefix = "base_model.model.";

// The kinds of adapter tensor, by the suffix after the module name.
enum class FactorKind { lora_a, lora_b, lora_bias, embedding_a, embedding_b };

struct Factor {
  FactorKind kind;
  std::string suffix;
  std::size_t dims;
};

const std::vector<Factor>& factors() {
  static const std::vector<Factor> kFactors = {{FactorKind::lora_a, ".lora_A.weight", 2},
                                               {FactorKind::lora_b, ".lora_B.weight", 2},
                                               {FactorKind::lora_bias, ".lora_B.bias", 1},
                                               {FactorKind::embedding_a, ".lora_embedding_A", 2},
                                               {FactorKind::embedding_b, ".lora_embedding_B", 2}};
  return kFactors;
}

// PEFT matches a modules_to_save entry as it matches target_modules: the whole name, or its end after a dot.
bool is_saved_module(const model::LoraAdapter& adapter, const std::string& module) {
  for (const auto& saved : adapter.modules_to_save) {
    if (module == saved || ends_with(module, "." + saved)) return true;
  }
  return false;
}

// One adapter tensor: a factor of a module, or (no factor) a tensor of a modules_to_save module.
struct ClassifiedTensor {
  std::string module;            // the module name
  std::optional<Factor> factor;  // none: a saved module's tensor, named `module` + its last component
};

ClassifiedTensor classify(const model::LoraAdapter& adapter, const std::string& name, const at::Tensor& tensor,
                          const std::string& label) {
  if (!starts_with(name, kPrefix)) {
    throw Error(label + ": tensor '" + name + "' is not named " + kPrefix + "<module>.<lora tensor>");
  }
  if (!at::isFloatingType(tensor.scalar_type())) throw Error(label + ": tensor '" + name + "' is not floating-point");
  const std::string rest = name.substr(kPrefix.size());
  for (const auto& factor : factors()) {
    if (!ends_with(rest, factor.suffix)) continue;
    if (static_cast<std::size_t>(tensor.dim()) != factor.dims) {
      throw Error(label + ": tensor '" + name + "' has shape " + shape_text(tensor.sizes()) + ", expected " +
                  (factor.dims == 2 ? "a matrix" : "a vector"));
    }
    if (factor.kind == FactorKind::lora_bias && !adapter.lora_bias) {
      throw Error(label + ": tensor '" + name + "' is a lora_B.bias, but adapter_config.json's lora_bias is not true");
    }
    return {rest.substr(0, rest.size() - factor.suffix.size()), factor};
  }
  const std::size_t dot = rest.rfind('.');
  const std::string module = dot == std::string::npos ? rest : rest.substr(0, dot);
  if (dot == std::string::npos || !is_saved_module(adapter, module)) {
    throw Error(label + ": tensor '" + name + "' is neither a LoRA factor (lora_A/B.weight, lora_B.bias, " +
                "lora_embedding_A/B) nor a tensor of a module adapter_config.json lists in modules_to_save");
  }
  return {module, std::nullopt};
}

// The module's r and s (PEFT's LoraModel._create_and_replace with rank_pattern / alpha_pattern, and
// LoraLayer.update_layer's scaling).
std::pair<std::int64_t, double> rank_and_scale(const model::LoraAdapter& adapter, const std::string& module) {
  const std::int64_t* rank = model::pattern_value(adapter.rank_pattern, module);
  const double* alpha = model::pattern_value(adapter.alpha_pattern, module);
  const std::int64_t r = rank ? *rank : adapter.options.r;
  const double a = alpha ? *alpha : adapter.options.alpha;
  return {r, adapter.use_rslora ? a / std::sqrt(static_cast<double>(r)) : a / static_cast<double>(r)};
}

void require_shapes(const LoraModule& module, std::int64_t r, const std::string& label) {
  const bool fits = module.a.size(0) == r && module.b.size(1) == r &&
                    (!module.bias.defined() || module.bias.size(0) == module.b.size(0));
  if (fits) return;
  const std::string names = module.embedding ? "lora_embedding_A " + shape_text(module.a.sizes()) +
                                                   " and lora_embedding_B " + shape_text(module.b.sizes()) +
                                                   " are not [r, vocab] and [hidden, r]"
                                             : "lora_A " + shape_text(module.a.sizes()) + " and lora_B " +
                                                   shape_text(module.b.sizes()) +
                                                   (module.bias.defined() ? " and lora_B.bias " +
                                                                                shape_text(module.bias.sizes())
                                                                          : std::string()) +
                                                   " are not [r, in] and [out, r]" +
                                                   (module.bias.defined() ? " and [out]" : "");
  throw Error(label + ": module '" + module.name + "': " + names + " with its r = " + std::to_string(r) +
              " (r, or its rank_pattern entry)");
}

}  // namespace

std::vector<std::int64_t> LoraModule::delta_shape() const {
  return embedding ? std::vector<std::int64_t>{a.size(1), b.size(0)} : std::vector<std::int64_t>{b.size(0), a.size(1)};
}

std::vector<LoraModule> lora_modules(const model::LoraAdapter& adapter, const std::string& label) {
  std::vector<std::string> order;
  std::map<std::string, LoraModule> modules;
  for (const auto& [name, tensor] : adapter.tensors) {
    const ClassifiedTensor classified = classify(adapter, name, tensor, label);
    if (!classified.factor) continue;
    LoraModule& entry = modules[classified.module];
    if (entry.name.empty()) {
      entry.name = classified.module;
      order.push_back(classified.module);
    }
    const FactorKind kind = classified.factor->kind;
    const bool embedding = kind == FactorKind::embedding_a || kind == FactorKind::embedding_b;
    if (entry.a.defined() || entry.b.defined()) {
      if (embedding != entry.embedding && kind != FactorKind::lora_bias) {
        throw Error(label + ": module '" + classified.module + "' has both lora_A/B and lora_embedding_A/B");
      }
    }
    if (kind != FactorKind::lora_bias) entry.embedding = embedding;
    (kind == FactorKind::lora_a || kind == FactorKind::embedding_a   ? entry.a
     : kind == FactorKind::lora_b || kind == FactorKind::embedding_b ? entry.b
                                                                     : entry.bias) = tensor;
  }
  std::vector<LoraModule> result;
  for (const auto& module : order) {
    LoraModule& entry = modules.at(module);
    const std::string a_name = entry.embedding ? "lora_embedding_A" : "lora_A";
    const std::string b_name = entry.embedding ? "lora_embedding_B" : "lora_B";
    if (!entry.a.defined() || !entry.b.defined()) {
      throw Error(label + ": module '" + module + "' has " +
                  (entry.a.defined() ? a_name + " but no " + b_name
                   : entry.b.defined() ? b_name + " but no " + a_name
                                       : "a lora_B.bias but no lora_A/lora_B"));
    }
    if (entry.embedding && entry.bias.defined()) {
      throw Error(label + ": module '" + module + "' is an embedding (lora_embedding_A/B) with a lora_B.bias");
    }
    const auto [r, scale] = rank_and_scale(adapter, module);
    entry.scale = scale;
    require_shapes(entry, r, label);
    result.push_back(entry);
  }
  if (result.empty() && adapter.modules_to_save.empty()) {
    throw Error(label + ": the adapter has no LoRA tensors (lora_A/lora_B, lora_embedding_A/B)");
  }
  return result;
}

std::vector<SavedModuleTensor> saved_module_tensors(const model::LoraAdapter& adapter, const std::string& label) {
  std::vector<SavedModuleTensor> saved;
  for (const auto& [name, tensor] : adapter.tensors) {
    if (!classify(adapter, name, tensor, label).factor) saved.push_back({name.substr(kPrefix.size()), tensor});
  }
  return saved;
}

at::Tensor lora_delta_weight(const LoraModule& module, c10::ScalarType dtype) {
  const at::Tensor product = at::matmul(module.b.to(dtype), module.a.to(dtype)).mul_(module.scale);
  return module.embedding ? product.t().contiguous() : product;
}

}  // namespace ladle::merge
