// Opens a model checkpoint in safetensors form: a single .safetensors file or a Hugging Face model folder.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/io/safetensors_reader.h"
#include "lib/weights/named_tensors.h"

namespace ladle::io {

class CheckpointReader {
 public:
  // `path` is a .safetensors file or a folder holding, in order of preference (as transformers'
  // from_pretrained looks for them): model.safetensors; model.safetensors.index.json and its shards; or a
  // single *.safetensors file. The index is validated as hostile: weight_map must map names to plain file
  // names inside the folder, every listed shard must exist and hold the tensors listed for it, and no tensor
  // may be in two shards (tensors a shard holds beyond its listing are loaded, as transformers does, with a
  // warning; so is a metadata.total_size that disagrees with the shards). A folder with only pickle
  // checkpoints (pytorch_model*.bin) is refused: unpickling can execute code. config.json, when present in
  // the folder, must be valid JSON. Every problem throws ladle::Error naming the file.
  explicit CheckpointReader(const std::filesystem::path& path);
  ~CheckpointReader();
  CheckpointReader(const CheckpointReader&) = delete;
  CheckpointReader& operator=(const CheckpointReader&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Every tensor name: shards in order, file order within a shard.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return location_.count(name) != 0; }
  // Throws ladle::Error naming the checkpoint and the tensor when it is absent.
  const TensorEntry& entry(const std::string& name) const;
  // See SafetensorsReader::tensor (a zero-copy view where alignment allows).
  at::Tensor tensor(const std::string& name) const;
  // The tensor or some of its rows in memory of its own, copied out of its shard with pread(2)
  // (SafetensorsReader::read_tensor).
  at::Tensor read_tensor(const std::string& name, std::int64_t first_row = 0, std::int64_t row_count = -1) const;
  const SafetensorsReader& shard_of(const std::string& name) const;
  const std::vector<std::unique_ptr<SafetensorsReader>>& shards() const { return shards_; }
  // The folder's config.json, when present.
  const std::optional<nlohmann::json>& config() const { return config_; }

  std::uint64_t parameter_count() const;  // total elements over all tensors
  std::uint64_t tensor_bytes() const;     // total data bytes over all tensors
  // Every tensor, in names() order.
  NamedTensors load_all() const;

 private:
  void open_index(const std::filesystem::path& index_path);
  void add_shard(const std::filesystem::path& shard_path);

  std::filesystem::path path_;
  std::vector<std::unique_ptr<SafetensorsReader>> shards_;
  std::unordered_map<std::string, std::pair<std::size_t, std::size_t>> location_;  // name -> (shard, entry)
  std::optional<nlohmann::json> config_;
};

}  // namespace ladle::io
