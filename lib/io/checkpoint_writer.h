// Writes a Hugging Face style model folder (sharded safetensors, index, config.json and any extra files)
// that appears at its destination only when complete.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/weights/named_tensors.h"

namespace ladle::io {

class AtomicDirectory;
class ShardedSafetensorsWriter;
struct TensorDeclaration;

struct CheckpointWriteOptions {
  std::uint64_t max_shard_bytes = 5ull << 30;  // tensor bytes per shard file (Hugging Face's default, 5 GiB)
  bool overwrite = false;                      // replace an existing folder at the destination
  std::map<std::string, std::string> metadata = {{"format", "pt"}};  // "__metadata__" of every shard
};

// Everything is written into "<directory>.partial-<pid>" and renamed onto `directory` by finish(); a writer
// destroyed without finish() (an exception, an interrupted merge) removes its partial folder, so nothing
// appears at `directory`.
class CheckpointWriter {
 public:
  // Throws ladle::Error right away when `directory` exists and options.overwrite is false.
  explicit CheckpointWriter(std::filesystem::path directory, CheckpointWriteOptions options = {});
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Writes config.json (indented like transformers' save_pretrained).
  void set_config(const nlohmann::json& config);
  // Copies a file (tokenizer.json, generation_config.json, ...) into the folder under a plain file name.
  void copy_file(const std::filesystem::path& source, const std::string& name_in_folder);
  // See ShardedSafetensorsWriter::declare_tensors: every tensor's bytes are then written as soon as it is added.
  void declare_tensors(const std::vector<TensorDeclaration>& tensors);
  // See ShardedSafetensorsWriter::add.
  void add(const std::string& name, const at::Tensor& tensor);
  // Writes the last shard and the index, then publishes the folder. Returns `directory`.
  std::filesystem::path finish();

 private:
  void check_not_finished(const std::string& action) const;
  std::filesystem::path file_in_folder(const std::string& name) const;

  std::filesystem::path directory_;
  std::unique_ptr<AtomicDirectory> folder_;
  std::unique_ptr<ShardedSafetensorsWriter> shards_;  // after folder_, so destroyed before it
  bool finished_ = false;
};

// Writes `tensors` (and config.json when given) as a checkpoint folder through a CheckpointWriter.
void save_checkpoint(const std::filesystem::path& directory, const NamedTensors& tensors,
                     const std::optional<nlohmann::json>& config = std::nullopt,
                     const CheckpointWriteOptions& options = {});

}  // namespace ladle::io
