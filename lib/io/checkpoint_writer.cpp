#include "lib/io/checkpoint_writer.h"

#include <system_error>
#include <utility>

#include "lib/io/atomic_file.h"
#include "lib/io/safetensors_writer.h"
#include "lib/io/strict_json.h"
#include "lib/util/error.h"

namespace ladle::io {

namespace fs = std::filesystem;

CheckpointWriter::CheckpointWriter(fs::path directory, CheckpointWriteOptions options)
    : directory_(std::move(directory)),
      folder_(std::make_unique<AtomicDirectory>(directory_, options.overwrite)),
      shards_(std::make_unique<ShardedSafetensorsWriter>(folder_->path(), options.max_shard_bytes, "model",
                                                         std::move(options.metadata))) {}

// Members are destroyed in reverse order: the shard writer (whose unfinished shards live inside the partial
// folder) before the folder.
CheckpointWriter::~CheckpointWriter() = default;

void CheckpointWriter::check_not_finished(const std::string& action) const {
  if (finished_) throw Error(directory_.string() + ": " + action + " after finish()");
}

fs::path CheckpointWriter::file_in_folder(const std::string& name) const {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    throw Error(directory_.string() + ": " + quote_for_message(name) + " is not a plain file name");
  }
  const fs::path path = folder_->path() / name;
  std::error_code error;
  if (fs::exists(fs::symlink_status(path, error))) {
    throw Error(directory_.string() + ": the folder already has a file named " + quote_for_message(name));
  }
  return path;
}

void CheckpointWriter::set_config(const nlohmann::json& config) {
  check_not_finished("set_config()");
  std::string text;
  try {
    text = config.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    throw Error(directory_.string() + ": config.json: " + e.what());
  }
  write_file_atomically(folder_->path() / "config.json", text);
}

void CheckpointWriter::copy_file(const fs::path& source, const std::string& name_in_folder) {
  check_not_finished("copy_file()");
  const fs::path destination = file_in_folder(name_in_folder);
  std::error_code error;
  fs::copy_file(source, destination, error);
  if (error) {
    throw Error(source.string() + ": cannot copy into " + directory_.string() + " as " + name_in_folder + ": " +
                error.message());
  }
}

void CheckpointWriter::declare_tensors(const std::vector<TensorDeclaration>& tensors) {
  check_not_finished("declare_tensors()");
  shards_->declare_tensors(tensors);
}

void CheckpointWriter::add(const std::string& name, const at::Tensor& tensor) {
  check_not_finished("add()");
  shards_->add(name, tensor);
}

fs::path CheckpointWriter::finish() {
  check_not_finished("finish()");
  finished_ = true;
  shards_->finish();
  folder_->commit();
  return folder_->target();
}

void save_checkpoint(const fs::path& directory, const NamedTensors& tensors,
                     const std::optional<nlohmann::json>& config, const CheckpointWriteOptions& options) {
  CheckpointWriter writer(directory, options);
  if (config) writer.set_config(*config);
  for (const auto& [name, tensor] : tensors) writer.add(name, tensor);
  writer.finish();
}

}  // namespace ladle::io
