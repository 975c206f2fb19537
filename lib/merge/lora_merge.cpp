#include "lib/merge/lora_merge.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "lib/merge/lora_delta.h"
#include "lib/merge/lora_factorization.h"
#include "lib/util/error.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

// PEFT's tensor names (lib/model/lora.h).
std::string peft_name(const std::string& module, const char* factor) {
  return "base_model.model." + module + ".lora_" + factor + ".weight";
}

// The update of each module's weight: ΔW, or ΔWᵀ for weights stored [in, out] (`transposed` says which).
std::vector<WeightUpdate> weight_updates(const std::vector<std::string>& modules,
                                         const std::vector<std::vector<std::int64_t>>& delta_shapes,
                                         const std::vector<bool>& transposed,
                                         const std::function<at::Tensor(const std::string&)>& delta) {
  std::vector<WeightUpdate> updates;
  for (std::size_t i = 0; i < modules.size(); ++i) {
    std::vector<std::int64_t> shape = delta_shapes[i];
    const bool transpose = transposed[i];
    if (transpose) std::reverse(shape.begin(), shape.end());
    const std::string module = modules[i];
    updates.push_back({module + ".weight", shape, [module, transpose, delta] {
                         const at::Tensor update = delta(module);
                         return transpose ? update.t() : update;
                       }});
  }
  return updates;
}

// lora_B.bias of every module that has one, scaled as its weight's update: the base's bias takes s·bias.
void add_bias_updates(const std::vector<LoraModule>& modules, std::vector<WeightUpdate>& updates) {
  for (const auto& module : modules) {
    if (!module.bias.defined()) continue;
    const at::Tensor bias = module.bias;
    const double scale = module.scale;
    updates.push_back({module.bias_name(), {bias.size(0)}, [bias, scale] { return bias.to(at::kFloat) * scale; }});
  }
}

// modules_to_save: each saved tensor replaces the base's.
void add_saved_tensors(const std::vector<SavedModuleTensor>& saved, std::vector<WeightUpdate>& updates) {
  for (const auto& entry : saved) {
    const at::Tensor tensor = entry.tensor;
    updates.push_back({entry.name, tensor.sizes().vec(), [tensor] { return tensor; }, /*replaces=*/true});
  }
}

}  // namespace

UpdatedModelWriteStats merge_lora_into_model(const fs::path& base, const fs::path& adapter_path,
                                             const fs::path& directory, const UpdatedModelWriteOptions& options) {
  const model::LoraAdapter adapter = model::read_lora_adapter(adapter_path);
  const std::vector<LoraModule> modules = lora_modules(adapter, adapter_path.string());
  std::vector<std::string> names;
  std::vector<std::vector<std::int64_t>> shapes;
  std::vector<bool> transposed;
  std::map<std::string, const LoraModule*> by_name;
  for (const auto& module : modules) {
    names.push_back(module.name);
    shapes.push_back(module.delta_shape());
    // fan_in_fan_out is a Linear layer's flag: PEFT's Embedding layer ignores it.
    transposed.push_back(adapter.fan_in_fan_out && !module.embedding);
    by_name[module.name] = &module;
  }
  const auto delta = [&](const std::string& name) { return lora_delta_weight(*by_name.at(name)); };
  std::vector<WeightUpdate> updates = weight_updates(names, shapes, transposed, delta);
  add_bias_updates(modules, updates);
  add_saved_tensors(saved_module_tensors(adapter, adapter_path.string()), updates);
  return write_updated_model(base, updates, directory, options);
}

std::int64_t default_merged_rank(const LoraDeltaMerger& merger) {
  std::int64_t rank = 0;
  for (const auto& adapter : merger.adapters()) rank += adapter.adapter.options.r;
  for (const auto& module : merger.modules()) {
    const auto shape = merger.delta_shape(module);
    rank = std::min(rank, std::min(shape[0], shape[1]));
  }
  return rank;
}

RefactorizedLoraAdapter refactorize_merged_adapter(const LoraDeltaMerger& merger, std::int64_t rank,
                                                   c10::ScalarType dtype) {
  for (const auto& module : merger.modules()) {
    const auto shape = merger.delta_shape(module);
    if (rank < 1 || rank > std::min(shape[0], shape[1])) {
      throw Error("rank " + std::to_string(rank) + ": module '" + module + "' has a [" + std::to_string(shape[0]) +
                  ", " + std::to_string(shape[1]) + "] update, so the rank must be between 1 and " +
                  std::to_string(std::min(shape[0], shape[1])));
    }
  }
  const model::LoraAdapter& first = merger.adapters().front().adapter;
  RefactorizedLoraAdapter result;
  model::LoraAdapter& adapter = result.adapter;
  adapter.options.r = rank;
  adapter.options.alpha = static_cast<double>(rank);
  adapter.options.dropout = first.options.dropout;
  adapter.options.target_modules.clear();
  adapter.fan_in_fan_out = first.fan_in_fan_out;
  adapter.base_model_name_or_path = first.base_model_name_or_path;
  for (const auto& module : merger.modules()) {
    const std::string last = module.substr(module.rfind('.') + 1);
    auto& targets = adapter.options.target_modules;
    if (std::find(targets.begin(), targets.end(), last) == targets.end()) targets.push_back(last);
    const LoraFactors factors = truncated_lora_factors(merger.merged_delta(module), rank);
    adapter.tensors.insert(peft_name(module, "A"), to_storage_dtype(factors.a, dtype));
    adapter.tensors.insert(peft_name(module, "B"), to_storage_dtype(factors.b, dtype));
    result.modules.push_back({module, factors.kept_energy, factors.total_energy});
  }
  return result;
}

LoraAdaptersMergeResult merge_lora_adapters(const MergeConfig& config, const fs::path& directory,
                                            const LoraAdaptersMergeOptions& options) {
  std::optional<fs::path> base = options.full_model;
  if (!base && config.base_model) base = config.base_model->path;
  if (base && options.rank) {
    throw Error("--rank sets the rank of an output adapter, but the output is a full model (" +
                std::string(options.full_model ? "--full-model" : "base_model in " + config.path.string()) +
                "); drop --rank, or remove the base model to write an adapter");
  }
  const LoraDeltaMerger merger(config, options.seed);
  LoraAdaptersMergeResult result;
  if (base) {
    UpdatedModelWriteOptions write_options;
    write_options.max_shard_bytes = options.max_shard_bytes;
    write_options.overwrite = options.overwrite;
    write_options.out_dtype = config.out_dtype;
    std::vector<std::vector<std::int64_t>> shapes;
    for (const auto& module : merger.modules()) shapes.push_back(merger.delta_shape(module));
    const auto delta = [&](const std::string& module) { return merger.merged_delta(module); };
    const std::vector<bool> transposed(merger.modules().size(), merger.fan_in_fan_out());
    const auto stats =
        write_updated_model(*base, weight_updates(merger.modules(), shapes, transposed, delta), directory, write_options);
    result.full_model = true;
    result.tensors = stats.tensors;
    return result;
  }
  result.rank = options.rank.value_or(default_merged_rank(merger));
  const c10::ScalarType dtype = config.out_dtype.value_or(merger.adapters().front().modules.front().a.scalar_type());
  RefactorizedLoraAdapter refactorized = refactorize_merged_adapter(merger, result.rank, dtype);
  model::save_lora_adapter(refactorized.adapter, directory, options.overwrite);
  result.modules = std::move(refactorized.modules);
  result.tensors = refactorized.adapter.tensors.size();
  return result;
}

double LoraAdaptersMergeResult::energy_fraction() const {
  double kept = 0, total = 0;
  for (const auto& module : modules) {
    kept += module.kept_energy;
    total += module.total_energy;
  }
  return total > 0 ? kept / total : 1.0;
}

std::string LoraAdaptersMergeResult::text() const {
  std::ostringstream text;
  if (full_model) {
    text << "wrote a full model: " << tensors << " tensors, the merged update added to the base\n";
    return text.str();
  }
  text << "wrote an adapter of rank " << rank << " (lora_alpha " << rank << ", scale 1): " << modules.size()
       << " modules\nenergy kept (sum of kept squared singular values / sum of all):\n"
       << std::fixed << std::setprecision(6);
  for (const auto& module : modules) text << "  " << module.module << ": " << module.fraction() << "\n";
  text << "  overall: " << energy_fraction() << "\n";
  return text.str();
}

}  // namespace ladle::merge
