#include "callbacks/model_folder.h"

#include <system_error>

#include "lib/merge/merged_model_writer.h"

namespace ladle::callbacks {

std::filesystem::path model_folder_of(const std::filesystem::path& model) {
  std::error_code error;
  return std::filesystem::is_directory(model, error) ? model : model.parent_path();
}

std::unique_ptr<io::CheckpointWriter> open_model_folder(const std::filesystem::path& output,
                                                        const std::filesystem::path& source,
                                                        const io::CheckpointWriteOptions& options) {
  auto writer = std::make_unique<io::CheckpointWriter>(output, options);
  const std::filesystem::path folder = model_folder_of(source);
  std::error_code error;
  if (std::filesystem::is_regular_file(folder / "config.json", error)) {
    writer->copy_file(folder / "config.json", "config.json");
  }
  for (const auto& name : merge::tokenizer_file_names()) {
    if (std::filesystem::is_regular_file(folder / name, error)) writer->copy_file(folder / name, name);
  }
  return writer;
}

std::filesystem::path write_model_folder(const std::filesystem::path& output, const NamedTensors& weights,
                                         const std::filesystem::path& source,
                                         const io::CheckpointWriteOptions& options) {
  auto writer = open_model_folder(output, source, options);
  for (const auto& [name, tensor] : weights) writer->add(name, tensor);
  return writer->finish();
}

}  // namespace ladle::callbacks
