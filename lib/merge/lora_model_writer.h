// A base model with LoRA weight updates added, written as a Hugging Face folder: the output of merging adapters
// into their base (`ladle merge lora`, and `ladle merge lora-adapters` with a base model).
//
// Streaming: the base's tensors are read memory-mapped and written in its order; an update is computed only when
// its weight is reached and dropped once added, so besides the current output shard the writer holds one
// update at a time.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ladle::merge {

// One weight's update.
struct WeightUpdate {
  std::string weight;                   // the base tensor it is added to, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<std::int64_t> shape;      // its shape, which must be the weight's (already transposed for [in, out])
  std::function<at::Tensor()> compute;  // the update, computed when the weight is written (any floating dtype)
  bool replaces = false;                // the update is the new weight itself (PEFT's modules_to_save), not ΔW
};

struct UpdatedModelWriteOptions {
  std::uint64_t max_shard_bytes = 5ull << 30;  // tensor bytes per shard file
  bool overwrite = false;                      // replace an existing folder at the destination
  std::optional<c10::ScalarType> out_dtype;    // stored dtype of every floating tensor; default: each one's own
};

struct UpdatedModelWriteStats {
  std::size_t tensors = 0;          // tensors written
  std::size_t updated = 0;          // of which updated
  std::uint64_t bytes_written = 0;  // tensor bytes
};

// Checks every update against `base` (a Hugging Face folder or .safetensors file) before writing anything: its
// weight exists, is floating-point and has the update's shape, and no weight is updated twice. Then writes
// `directory`: every base tensor in order, an updated one as W + ΔW (or the replacement) computed in fp32 (fp64 for fp64 weights) and
// stored in W's dtype (or out_dtype); config.json from the base (torch_dtype set to out_dtype when given);
// the base folder's tokenizer files (lib/merge/merged_model_writer.h's list). The folder appears only when
// complete. Throws ladle::Error naming the weight and the base.
UpdatedModelWriteStats write_updated_model(const std::filesystem::path& base, const std::vector<WeightUpdate>& updates,
                                           const std::filesystem::path& directory,
                                           const UpdatedModelWriteOptions& options = {});

}  // namespace ladle::merge
