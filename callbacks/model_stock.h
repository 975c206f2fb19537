// Model Stock at the end of a run (Jang et al., "Model Stock: All we need is just a few fine-tuned models", ECCV
// 2024): two or more fine-tunes of one base merged by the merge engine's model_stock method
// (lib/merge/methods/model_stock.h), tensor by tensor.
#pragma once

#include <filesystem>
#include <vector>

#include "lib/io/checkpoint_writer.h"
#include "lib/weights/named_tensors.h"

namespace ladle::callbacks {

struct ModelStockOptions {
  bool filter_wise = false;  // model_stock's filter_wise: one interpolation ratio per row instead of per tensor
};

// The merge of `finetunes` (at least two) onto `base`, in the base's dtypes; non-floating tensors are the base's.
// Throws ladle::Error when a layout differs or fewer than two fine-tunes are given.
NamedTensors model_stock_merge(const NamedTensors& base, const std::vector<const NamedTensors*>& finetunes,
                               const ModelStockOptions& options = {});

// The same over Hugging Face folders, streamed tensor by tensor into a new folder at `output` (config.json and
// tokenizer files from the base). Returns `output`.
std::filesystem::path model_stock_merge(const std::filesystem::path& base,
                                        const std::vector<std::filesystem::path>& finetunes,
                                        const std::filesystem::path& output, const ModelStockOptions& options = {},
                                        const io::CheckpointWriteOptions& write_options = {});

}  // namespace ladle::callbacks
