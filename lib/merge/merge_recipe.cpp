#include "lib/merge/merge_recipe.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <map>
#include <sstream>

#include "lib/config/config_source.h"
#include "lib/io/stage_fingerprint.h"
#include "lib/merge/merged_model_writer.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

struct DocumentText {
  std::string text;
  int first_line = 1;
};

// True for a YAML document marker line: "---" alone or followed by a space (and a comment).
bool is_document_marker(const std::string& line) {
  return line.compare(0, 3, "---") == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

bool holds_a_document(const std::string& text) {
  try {
    return !YAML::Load(text).IsNull();
  } catch (const YAML::Exception&) {
    return true;  // a syntax error, reported by the config reader with its line
  }
}

// The documents between `---` lines, each with the line it starts at; empty and comment-only ones are dropped,
// as YAML readers drop them.
std::vector<DocumentText> split_documents(const std::string& text, const std::string& label) {
  std::vector<DocumentText> documents(1);
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (!is_document_marker(line)) {
      documents.back().text += line + "\n";
      continue;
    }
    const std::size_t rest = line.find_first_not_of(" \t\r", 3);
    if (rest != std::string::npos && line[rest] != '#') {
      throw Error(label + ":" + std::to_string(number) +
                  ": a document's first key goes on the line after '---', not on the marker line");
    }
    documents.push_back({"", number + 1});
  }
  std::vector<DocumentText> kept;
  for (auto& document : documents) {
    if (holds_a_document(document.text)) kept.push_back(std::move(document));
  }
  if (kept.empty()) throw Error(label + ": holds no merge config");
  return kept;
}

// Every place of a config that names a model whose output a stage can be: the models read, and the tokenizer's.
void for_each_model_reference(MergeConfig& config, const std::function<void(ModelReference&)>& visit) {
  if (config.base_model) visit(*config.base_model);
  for (auto& source : config.models) visit(source.model);
  for (auto& slice : config.slices) {
    if (slice.base_model) visit(*slice.base_model);
    for (auto& source : slice.sources) visit(source.model);
  }
  if (!config.tokenizer) return;
  if (config.tokenizer->source.model) visit(*config.tokenizer->source.model);
  for (auto& token : config.tokenizer->tokens) {
    if (token.source && token.source->model) visit(*token.source->model);
  }
}

std::string stage_name(const RecipeStage& stage) {
  return stage.config.name.empty() ? "final" : stage.config.name;
}

std::string document_label(const RecipeStage& stage) {
  return "document " + std::to_string(stage.document) + " at line " + std::to_string(stage.line);
}

void require_usable_name(const RecipeStage& stage, bool last, const std::string& label) {
  const std::string& name = stage.config.name;
  if (name.empty()) {
    if (last) return;
    throw Error(label + ": " + document_label(stage) +
                " has no 'name': every stage but the last needs one, by which later stages use its output");
  }
  if (name == "." || name == ".." || name.find_first_of("/\\") != std::string::npos) {
    throw Error(stage.config.where(stage.line) + ": name: '" + name +
                "' names the stage's folder, so it cannot be '.', '..' or contain a slash");
  }
}

// The stages each stage reads, by the names its model references use.
std::vector<std::vector<std::size_t>> stage_uses(std::vector<RecipeStage>& stages,
                                                 const std::map<std::string, std::size_t>& by_name) {
  std::vector<std::vector<std::size_t>> uses(stages.size());
  for (std::size_t i = 0; i < stages.size(); ++i) {
    for_each_model_reference(stages[i].config, [&](ModelReference& reference) {
      const auto found = by_name.find(reference.name);
      if (found != by_name.end()) uses[i].push_back(found->second);
    });
  }
  return uses;
}

// A path of uses from `from` back to `to`, when there is one (depth first).
bool find_path(const std::vector<std::vector<std::size_t>>& uses, std::size_t from, std::size_t to,
               std::vector<std::size_t>& path) {
  path.push_back(from);
  if (from == to && path.size() > 1) return true;
  for (std::size_t next : uses[from]) {
    if (std::find(path.begin() + 1, path.end(), next) != path.end()) continue;
    if (find_path(uses, next, to, path)) return true;
  }
  path.pop_back();
  return false;
}

// Refuses a use of a stage that does not run before the user: its own output, a cycle, or a later stage.
void require_earlier_uses(const std::vector<RecipeStage>& stages, const std::vector<std::vector<std::size_t>>& uses,
                          const std::string& label) {
  for (std::size_t i = 0; i < stages.size(); ++i) {
    for (std::size_t used : uses[i]) {
      if (used < i) continue;
      std::vector<std::size_t> cycle;
      if (find_path(uses, i, i, cycle)) {
        std::string names, documents;
        for (std::size_t k = 0; k < cycle.size(); ++k) {
          names += (k ? " -> " : "") + stage_name(stages[cycle[k]]);
          if (k + 1 < cycle.size()) documents += (k ? ", " : "") + document_label(stages[cycle[k]]);
        }
        throw Error(label + ": the stages form a cycle, each using the next one's output: " + names + " (" +
                    documents + ")");
      }
      throw Error(label + ": " + document_label(stages[i]) + " uses stage '" + stage_name(stages[used]) +
                  "', which " + document_label(stages[used]) +
                  " defines after it: stages run in file order, so move that document before this one");
    }
  }
}

// A model reference that is neither a stage nor on disk is most likely a stage misspelled or missing.
void require_known_models(std::vector<RecipeStage>& stages, const std::map<std::string, std::size_t>& by_name) {
  std::string known;
  for (const auto& [name, index] : by_name) known += (known.empty() ? "" : ", ") + name;
  for (auto& stage : stages) {
    for_each_model_reference(stage.config, [&](ModelReference& reference) {
      std::error_code error;
      if (by_name.count(reference.name) || fs::exists(reference.path, error)) return;
      throw Error(stage.config.where(reference.line) + ": model '" + reference.name + "' (" +
                  document_label(stage) + ") is neither a stage of this recipe (" +
                  (known.empty() ? "it names none" : "stages: " + known) + ") nor a file or folder on disk (" +
                  reference.path.string() + ")");
    });
  }
}

// `stage_outputs`: the fingerprints of the earlier stages it reads, by the paths its references were given.
std::string stage_fingerprint(const RecipeStage& stage, const std::map<fs::path, std::string>& stage_outputs,
                              std::uint64_t seed) {
  auto identity = [&](const fs::path& path) -> nlohmann::json {
    const auto found = stage_outputs.find(path);
    return found != stage_outputs.end() ? nlohmann::json(found->second) : io::folder_identity(path);
  };
  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& model : stage.config.referenced_models()) inputs.push_back(identity(model.path));
  const auto& tokenizer = stage.config.tokenizer;
  if (tokenizer && tokenizer->source.model) inputs.push_back(identity(tokenizer->source.model->path));
  for (const auto& source : stage.config.models) {
    if (source.fisher) inputs.push_back(io::folder_identity(source.fisher->path));
  }
  for (const auto& slice : stage.config.slices) {
    for (const auto& source : slice.sources) {
      if (source.fisher) inputs.push_back(io::folder_identity(source.fisher->path));
    }
  }
  return io::fingerprint_of({{"stage", "merge recipe"}, {"document", stage.config.text}, {"inputs", inputs},
                             {"seed", seed}});
}

}  // namespace

std::string RecipeStage::label() const {
  return "stage " + stage_name(*this) + " (" + document_label(*this) + ")";
}

bool RecipeStage::is_up_to_date() const {
  return output && io::recorded_fingerprint(*output / kRecipeFingerprintFile) == fingerprint;
}

std::size_t merge_document_count(const fs::path& path) {
  const std::string text = config::read_config_text(path, kMaxConfigBytes);
  try {
    std::size_t documents = 0;
    for (const auto& document : YAML::LoadAll(text)) documents += document.IsNull() ? 0 : 1;
    return documents;
  } catch (const YAML::Exception&) {
    return 1;  // not YAML: the config reader says where
  }
}

fs::path default_intermediate_dir(const fs::path& output) {
  fs::path folder = fs::absolute(output).lexically_normal();
  if (!folder.has_filename()) folder = folder.parent_path();
  return folder.string() + ".stages";
}

MergeRecipe load_merge_recipe(const fs::path& path, const std::optional<RecipeOutputs>& outputs,
                              std::uint64_t seed) {
  const std::string label = path.string();
  const std::string text = config::read_config_text(path, kMaxConfigBytes);
  const fs::path folder = fs::absolute(path).parent_path();
  MergeRecipe recipe;
  recipe.path = path;
  const auto documents = split_documents(text, label);
  std::map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    RecipeStage stage;
    stage.config = parse_merge_document(documents[i].text, documents[i].first_line, label, folder);
    stage.document = static_cast<int>(i + 1);
    stage.line = documents[i].first_line;
    require_usable_name(stage, i + 1 == documents.size(), label);
    if (!stage.config.name.empty()) {
      const auto [known, added] = by_name.emplace(stage.config.name, i);
      if (!added) {
        throw Error(label + ": " + document_label(stage) + " is named '" + stage.config.name + "', as " +
                    document_label(recipe.stages[known->second]) + " is: each stage needs its own name");
      }
    }
    recipe.stages.push_back(std::move(stage));
  }
  const auto uses = stage_uses(recipe.stages, by_name);
  require_earlier_uses(recipe.stages, uses, label);
  require_known_models(recipe.stages, by_name);
  for (std::size_t i = 0; i < recipe.stages.size(); ++i) {
    RecipeStage& stage = recipe.stages[i];
    const bool last = i + 1 == recipe.stages.size();
    if (outputs) stage.output = last ? outputs->output : outputs->intermediate_dir / stage.config.name;
    for (std::size_t used : uses[i]) {
      if (std::find(stage.inputs.begin(), stage.inputs.end(), used) == stage.inputs.end()) stage.inputs.push_back(used);
    }
    std::map<fs::path, std::string> stage_outputs;
    for_each_model_reference(stage.config, [&](ModelReference& reference) {
      const auto found = by_name.find(reference.name);
      if (found == by_name.end()) return;
      const RecipeStage& used = recipe.stages[found->second];
      reference.path = used.output ? *used.output : fs::path("<the output of " + used.label() + ">");
      stage_outputs[reference.path] = used.fingerprint;
    });
    stage.fingerprint = stage_fingerprint(stage, stage_outputs, seed);
  }
  return recipe;
}

}  // namespace ladle::merge
