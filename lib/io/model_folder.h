// Writing weights computed from other models (a soup, a WiSE-FT interpolation, a Model Stock merge, an average) as
// a Hugging Face folder that loads like its source: config.json and the tokenizer files come from a source folder.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lib/io/checkpoint_writer.h"
#include "lib/weights/named_tensors.h"

namespace ladle::io {

// The files copied from the tokenizer source when present (mergekit's _copy_tokenizer list, plus vocab.json).
const std::vector<std::string>& tokenizer_file_names();

// The folder a model path names: the path itself for a folder, its parent for a .safetensors file.
std::filesystem::path model_folder_of(const std::filesystem::path& model);

// A CheckpointWriter for `output` with config.json and the tokenizer files (tokenizer_file_names) of
// `source`'s folder already copied, where present. Add the tensors, then finish().
std::unique_ptr<CheckpointWriter> open_model_folder(const std::filesystem::path& output,
                                                        const std::filesystem::path& source,
                                                        const CheckpointWriteOptions& options = {});

// Writes `weights` to a new folder at `output` as open_model_folder describes. Returns `output`.
std::filesystem::path write_model_folder(const std::filesystem::path& output, const NamedTensors& weights,
                                         const std::filesystem::path& source,
                                         const CheckpointWriteOptions& options = {});

}  // namespace ladle::io
