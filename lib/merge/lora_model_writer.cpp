#include "lib/merge/lora_model_writer.h"

#include <ATen/ATen.h>

#include <map>
#include <system_error>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/io/dtype.h"
#include "lib/io/torch_dtype.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merged_model_writer.h"
#include "lib/io/model_folder.h"
#include "lib/util/error.h"
#include "lib/util/shape_text.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

void check_updates(const io::CheckpointReader& base, const std::vector<WeightUpdate>& updates) {
  std::map<std::string, const WeightUpdate*> seen;
  for (const auto& update : updates) {
    if (!seen.emplace(update.weight, &update).second) {
      throw Error("'" + update.weight + "' is updated twice");
    }
    if (!base.contains(update.weight)) {
      throw Error(base.path().string() + ": the base model has no '" + update.weight +
                  "' for the adapter's update; is it the model the adapter was trained on?");
    }
    const io::TensorEntry& entry = base.entry(update.weight);
    if (entry.shape != update.shape) {
      throw Error(base.path().string() + ": '" + update.weight + "' has shape " + shape_text(entry.shape) +
                  " but the adapter's update is " + shape_text(update.shape) +
                  "; is it the model the adapter was trained on?");
    }
    const auto dtype = io::to_scalar_type(entry.dtype);
    if (!dtype || !at::isFloatingType(*dtype)) {
      throw Error(base.path().string() + ": '" + update.weight + "' is not floating-point");
    }
  }
}

void copy_tokenizer(const fs::path& base, io::CheckpointWriter& writer) {
  std::error_code error;
  if (!fs::is_directory(base, error)) return;
  for (const auto& name : io::tokenizer_file_names()) {
    if (fs::is_regular_file(base / name, error)) writer.copy_file(base / name, name);
  }
}

}  // namespace

UpdatedModelWriteStats write_updated_model(const fs::path& base, const std::vector<WeightUpdate>& updates,
                                           const fs::path& directory, const UpdatedModelWriteOptions& options) {
  const io::CheckpointReader reader(base);
  check_updates(reader, updates);
  std::map<std::string, const WeightUpdate*> by_weight;
  for (const auto& update : updates) by_weight[update.weight] = &update;

  io::CheckpointWriteOptions write_options;
  write_options.max_shard_bytes = options.max_shard_bytes;
  write_options.overwrite = options.overwrite;
  // Absolute, so that the folder's parent is never the empty path (e.g. for "out").
  io::CheckpointWriter writer(fs::absolute(directory).lexically_normal(), write_options);
  if (reader.config()) {
    nlohmann::json config = *reader.config();
    if (options.out_dtype) config["torch_dtype"] = merge_dtype_name(*options.out_dtype);
    writer.set_config(config);
  }
  copy_tokenizer(base, writer);

  UpdatedModelWriteStats stats;
  for (const auto& name : reader.names()) {
    at::Tensor tensor = reader.tensor(name);
    const bool floating = at::isFloatingType(tensor.scalar_type());
    const at::ScalarType stored = floating && options.out_dtype ? *options.out_dtype : tensor.scalar_type();
    const auto update = by_weight.find(name);
    if (update != by_weight.end()) {
      const at::ScalarType working = tensor.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
      const at::Tensor computed = update->second->compute().to(working);
      tensor = to_storage_dtype(update->second->replaces ? computed : tensor.to(working) + computed, stored);
      ++stats.updated;
    } else if (stored != tensor.scalar_type()) {
      tensor = to_storage_dtype(tensor, stored);
    }
    writer.add(name, tensor);
    ++stats.tensors;
    stats.bytes_written += static_cast<std::uint64_t>(tensor.nbytes());
  }
  writer.finish();
  return stats;
}

}  // namespace ladle::merge
