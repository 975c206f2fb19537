#include "lib/merge/merged_model_writer.h"

#include <sstream>

#include "lib/io/checkpoint_writer.h"
#include "lib/merge/merged_tokenizer.h"
#include "lib/util/build_info.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

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
  add_merged_tokenizer(plan, writer);
  add_text_file(writer, "mergekit_config.yml", config.text);
  const std::string name =
      absolute.has_filename() ? absolute.filename().string() : absolute.parent_path().filename().string();
  add_text_file(writer, "README.md", merged_model_card(config, plan, models, name));
  if (!options.recipe_fingerprint.empty()) {
    add_text_file(writer, kRecipeFingerprintFile, options.recipe_fingerprint + "\n");
  }
  const MergeExecutionStats stats = execute_merge(plan, models, writer, options.execution);
  writer.finish();
  return stats;
}

}  // namespace ladle::merge
