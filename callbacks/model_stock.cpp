#include "callbacks/model_stock.h"

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <string>

#include "lib/io/model_folder.h"
#include "lib/io/checkpoint_reader.h"
#include "lib/merge/merge_method_registry.h"
#include "lib/util/error.h"
#include "lib/weights/named_tensor_ops.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::callbacks {
namespace {

using TensorSource = std::function<at::Tensor(std::size_t model, const std::string& name)>;

// One merged tensor: model_stock over the fine-tunes' tensors (sources 1..n) onto the base's (source 0).
at::Tensor merge_tensor(const merge::MergeMethod& method, const std::string& name, std::size_t finetune_count,
                        const TensorSource& source, const ModelStockOptions& options) {
  const at::Tensor base = source(0, name);
  if (!at::isFloatingType(base.scalar_type())) return base;
  merge::MethodInputs inputs;
  inputs.tensor_name = name;
  inputs.base = base;
  for (std::size_t i = 1; i <= finetune_count; ++i) {
    inputs.models.push_back(source(i, name));
    inputs.model_names.push_back("fine-tune " + std::to_string(i));
    inputs.model_parameters.emplace_back();
  }
  inputs.parameters = {{"filter_wise", options.filter_wise ? 1.0 : 0.0}};
  inputs.working_dtype = accumulation_dtype({base});
  return to_storage_dtype(method.merge(inputs), base.scalar_type());
}

void require_two(std::size_t finetune_count) {
  if (finetune_count < 2) {
    throw Error("Model Stock: needs at least two fine-tunes of the base, got " + std::to_string(finetune_count));
  }
}

}  // namespace

NamedTensors model_stock_merge(const NamedTensors& base, const std::vector<const NamedTensors*>& finetunes,
                               const ModelStockOptions& options) {
  require_two(finetunes.size());
  for (std::size_t i = 0; i < finetunes.size(); ++i) {
    require_same_layout(*finetunes[i], base, "fine-tune " + std::to_string(i + 1), "base");
  }
  const merge::MergeMethod& method = merge::find_merge_method("model_stock");
  const TensorSource source = [&](std::size_t model, const std::string& name) {
    return model == 0 ? base.at(name) : finetunes[model - 1]->at(name);
  };
  NamedTensors merged;
  for (const auto& [name, tensor] : base) merged.insert(name, merge_tensor(method, name, finetunes.size(), source, options));
  return merged;
}

std::filesystem::path model_stock_merge(const std::filesystem::path& base,
                                        const std::vector<std::filesystem::path>& finetunes,
                                        const std::filesystem::path& output, const ModelStockOptions& options,
                                        const io::CheckpointWriteOptions& write_options) {
  require_two(finetunes.size());
  std::vector<std::unique_ptr<io::CheckpointReader>> readers;
  readers.push_back(std::make_unique<io::CheckpointReader>(base));
  for (const auto& path : finetunes) readers.push_back(std::make_unique<io::CheckpointReader>(path));
  for (std::size_t i = 1; i < readers.size(); ++i) {
    for (const auto& name : readers[0]->names()) {
      if (!readers[i]->contains(name) || readers[i]->entry(name).shape != readers[0]->entry(name).shape) {
        throw Error("Model Stock: " + readers[i]->path().string() + " lacks tensor '" + name +
                    "' with the base's shape");
      }
    }
    if (readers[i]->names().size() != readers[0]->names().size()) {
      throw Error("Model Stock: " + readers[i]->path().string() + " has tensors the base " +
                  readers[0]->path().string() + " lacks");
    }
  }
  const merge::MergeMethod& method = merge::find_merge_method("model_stock");
  const TensorSource source = [&](std::size_t model, const std::string& name) { return readers[model]->tensor(name); };
  auto writer = io::open_model_folder(output, base, write_options);
  for (const auto& name : readers[0]->names()) {
    writer->add(name, merge_tensor(method, name, finetunes.size(), source, options));
  }
  return writer->finish();
}

}  // namespace ladle::callbacks
