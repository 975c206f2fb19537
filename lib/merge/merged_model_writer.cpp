#include "lib/merge/merged_model_writer.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <system_error>

#include "lib/io/checkpoint_writer.h"
#include "lib/io/model_folder.h"
#include "lib/log/log.h"
#include "lib/util/build_info.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

// A file in the system's temporary folder, removed on destruction: CheckpointWriter adds files to its folder by
// copying them, so generated text goes through one of these.
class TemporaryTextFile {
 public:
  TemporaryTextFile(const std::string& stem, const std::string& contents) {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("ladle-" + stem + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << contents;
    out.close();
    if (!out) throw Error(path_.string() + ": cannot write a temporary file");
  }
  ~TemporaryTextFile() {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
  TemporaryTextFile(const TemporaryTextFile&) = delete;
  TemporaryTextFile& operator=(const TemporaryTextFile&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void copy_tokenizer(const MergePlan& plan, io::CheckpointWriter& writer) {
  if (!plan.tokenizer_folder) return;
  std::size_t copied = 0;
  bool has_vocabulary = false;
  for (const auto& name : io::tokenizer_file_names()) {
    std::error_code error;
    const fs::path source = *plan.tokenizer_folder / name;
    if (!fs::is_regular_file(source, error)) continue;
    writer.copy_file(source, name);
    ++copied;
    has_vocabulary = has_vocabulary || name == "tokenizer.json" || name == "tokenizer.model" || name == "vocab.json";
  }
  if (!has_vocabulary) {
    const std::string message = plan.tokenizer_folder->string() +
                                " has no tokenizer (tokenizer.json, tokenizer.model or vocab.json)";
    if (plan.tokenizer_required) throw Error("tokenizer_source: " + message);
    LADLE_LOG(warning) << message << "; the merged model has none either: copy one into it";
    return;
  }
  LADLE_LOG(info) << "copied " << copied << " tokenizer file(s) from " << plan.tokenizer_folder->string();
}

std::string parameter_values(const std::map<std::string, double>& parameters) {
  std::ostringstream text;
  bool first = true;
  for (const auto& [name, value] : parameters) {
    text << (first ? "" : ", ") << name << "=" << value;
    first = false;
  }
  return text.str();
}

}  // namespace

std::string merged_model_card(const MergeConfig& config, const MergePlan& plan, const InputModels& models,
                              const std::string& model_name) {
  std::ostringstream card;
  card << "---\nlibrary_name: transformers\ntags:\n- merge\n- ladle\n";
  if (config.base_model) card << "base_model:\n- " << config.base_model->name << "\n";
  card << "---\n# " << model_name << "\n\n";
  card << "This model was merged with ladle " << version() << " from a mergekit configuration.\n\n";
  card << "## Method\n\n`" << plan.method->name() << "`";
  if (!plan.tensors.empty()) {
    const std::string first = parameter_values(plan.tensors.front().parameters);
    if (!first.empty()) card << " (" << first << " for the first tensor)";
  }
  card << ", " << plan.tensors.size() << " tensors, " << plan.output_layers << " layers.\n\n";
  card << "## Models\n\n";
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto& reference = models[i].reference;
    card << "- " << reference.name;
    if (config.base_model && reference == *config.base_model) card << " (base model)";
    card << "\n";
  }
  card << "\n## Configuration\n\nThe YAML configuration used (also in `mergekit_config.yml`):\n\n```yaml\n"
       << config.text << (config.text.empty() || config.text.back() == '\n' ? "" : "\n") << "```\n";
  return card.str();
}

MergeExecutionStats write_merged_model(const MergeConfig& config, const MergePlan& plan, const InputModels& models,
                                       const fs::path& directory, const MergedModelWriteOptions& options) {
  io::CheckpointWriteOptions write_options;
  write_options.max_shard_bytes = options.max_shard_bytes;
  write_options.overwrite = options.overwrite;
  // Absolute, so that the folder's parent is never the empty path (e.g. for "out").
  const fs::path absolute = fs::absolute(directory).lexically_normal();
  io::CheckpointWriter writer(absolute, write_options);

  if (plan.output_config) writer.set_config(*plan.output_config);
  copy_tokenizer(plan, writer);
  {
    const TemporaryTextFile echo("mergekit-config", config.text);
    writer.copy_file(echo.path(), "mergekit_config.yml");
    const std::string name =
        absolute.has_filename() ? absolute.filename().string() : absolute.parent_path().filename().string();
    const TemporaryTextFile card("model-card", merged_model_card(config, plan, models, name));
    writer.copy_file(card.path(), "README.md");
  }
  if (!options.recipe_fingerprint.empty()) {
    const TemporaryTextFile fingerprint("recipe-fingerprint", options.recipe_fingerprint + "\n");
    writer.copy_file(fingerprint.path(), kRecipeFingerprintFile);
  }
  const MergeExecutionStats stats = execute_merge(plan, models, writer, options.execution);
  writer.finish();
  return stats;
}

}  // namespace ladle::merge
