// The models a merge config references, opened once (memory-mapped, nothing read yet) with their layer structure.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/merge/merge_config.h"

namespace ladle::merge {

struct InputModel {
  ModelReference reference;
  std::unique_ptr<io::CheckpointReader> reader;  // null when the model could not be opened
  std::string open_error;                        // why, when reader is null

  // The layer stack ("model.layers"): the stack with the most tensors when names show several (a vision tower's
  // layers are then treated as ordinary tensors). Empty when the model has no layer tensors.
  std::string layer_stack;
  std::int64_t layer_count = 0;                          // highest layer index + 1
  std::map<std::int64_t, std::vector<std::string>> layers;  // layer index -> tensor name suffixes, file order
  std::vector<std::string> other_tensors;                // tensors outside the stack, in file order

  bool is_open() const { return reader != nullptr; }
  // The model's folder (for config.json and tokenizer files); nullopt for a single .safetensors file.
  std::optional<std::filesystem::path> folder() const;
  // config.json's "architectures" joined with ", ", else its "model_type", else "".
  std::string architecture() const;
  // config.json's layer count (num_hidden_layers, n_layer or num_layers), when present.
  std::optional<std::int64_t> configured_layer_count() const;
};

class InputModels {
 public:
  // Opens every model config.referenced_models() lists. A model that cannot be opened is kept with its error
  // (so that `ladle merge check` reports every problem at once); require_open() throws for it.
  explicit InputModels(const MergeConfig& config);

  std::size_t size() const { return models_.size(); }
  const InputModel& operator[](std::size_t index) const { return models_[index]; }
  // The index of the model a reference names; throws ladle::Error for a reference the config never made.
  std::size_t index_of(const ModelReference& reference) const;
  const InputModel& at(const ModelReference& reference) const { return models_[index_of(reference)]; }
  // Throws ladle::Error naming the first model that could not be opened, and why.
  void require_open() const;

 private:
  std::vector<InputModel> models_;
};

}  // namespace ladle::merge
