#include "lib/io/model_folder.h"

#include <system_error>

namespace ladle::io {

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> names = {
      "tokenizer.model", "tokenizer.json",      "tokenizer_config.json",  "special_tokens_map.json",
      "added_tokens.json", "vocab.json",        "merges.txt",             "generation_config.json",
      "chat_template.jinja", "chat_template.json"};
  return names;
}

std::filesystem::path model_folder_of(const std::filesystem::path& model) {
  std::error_code error;
  return std::filesystem::is_directory(model, error) ? model : model.parent_path();
}

std::unique_ptr<CheckpointWriter> open_model_folder(const std::filesystem::path& output,
                                                        const std::filesystem::path& source,
                                                        const CheckpointWriteOptions& options) {
  auto writer = std::make_unique<CheckpointWriter>(output, options);
  const std::filesystem::path folder = model_folder_of(source);
  std::error_code error;
  if (std::filesystem::is_regular_file(folder / "config.json", error)) {
    writer->copy_file(folder / "config.json", "config.json");
  }
  for (const auto& name : tokenizer_file_names()) {
    if (std::filesystem::is_regular_file(folder / name, error)) writer->copy_file(folder / name, name);
  }
  return writer;
}

std::filesystem::path write_model_folder(const std::filesystem::path& output, const NamedTensors& weights,
                                         const std::filesystem::path& source,
                                         const CheckpointWriteOptions& options) {
  auto writer = open_model_folder(output, source, options);
  for (const auto& [name, tensor] : weights) writer->add(name, tensor);
  return writer->finish();
}

}  // namespace ladle::io
