#include "lib/merge/merge_check.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "lib/io/dtype.h"
#include "lib/merge/merge_method_registry.h"
#include "lib/merge/merge_plan.h"
#include "lib/merge/output_vocabulary.h"
#include "lib/merge/vocabulary_remap.h"
#include "lib/merge/tensor_names.h"
#include "lib/merge/token_vocabulary.h"
#include "lib/util/error.h"
#include "lib/util/human_format.h"
#include "lib/util/shape_text.h"

namespace ladle::merge {
namespace {

std::string quoted(const InputModel& model) { return "'" + model.reference.name + "'"; }

// "a, b, c and 7 more".
std::string name_list(const std::vector<std::string>& names, std::size_t shown = 5) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < shown; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > shown) text += " and " + std::to_string(names.size() - shown) + " more";
  return text;
}

const char* severity_heading(CheckSeverity severity) {
  switch (severity) {
    case CheckSeverity::error:
      return "errors";
    case CheckSeverity::warning:
      return "warnings";
    default:
      return "notes";
  }
}

class Checker {
 public:
  Checker(const MergeConfig& config, const InputModels& models) : config_(config), models_(models) {}
  MergeCheckReport run();

 private:
  void add(CheckSeverity severity, std::string topic, std::string message, std::string advice) {
    report_.findings.push_back({severity, std::move(topic), std::move(message), std::move(advice)});
  }
  void find_merged_models();
  void check_opened();
  void check_method();
  void check_architectures();
  void check_layers();
  void check_layer_ranges();
  void check_tensors();
  void check_dtypes();
  void check_vocabulary();
  void check_tokens();
  void check_output_vocabulary();
  void describe_model_vocabulary(const OutputVocabulary& vocabulary, const VocabularyRemap& remap, std::size_t input);
  void try_planning();
  std::string model_line(std::size_t index) const;
  std::set<std::string> expected_names(const InputModel& model) const;

  const MergeConfig& config_;
  const InputModels& models_;
  std::vector<std::size_t> merged_;  // models whose tensors are merged (not a tokenizer-only donor)
  std::optional<std::size_t> reference_;
  MergeCheckReport report_;
};

void Checker::find_merged_models() {
  std::set<std::size_t> seen;
  auto add_model = [&](const ModelReference& reference) {
    const std::size_t index = models_.index_of(reference);
    if (seen.insert(index).second) merged_.push_back(index);
  };
  if (config_.base_model) add_model(*config_.base_model);
  for (const auto& source : config_.models) add_model(source.model);
  for (const auto& slice : config_.slices) {
    if (slice.base_model) add_model(*slice.base_model);
    for (const auto& source : slice.sources) add_model(source.model);
  }
  if (models_[merged_.front()].is_open()) reference_ = merged_.front();
}

void Checker::check_opened() {
  for (std::size_t i = 0; i < models_.size(); ++i) {
    const InputModel& model = models_[i];
    if (model.is_open()) continue;
    add(CheckSeverity::error, "models",
        quoted(model) + " (" + config_.where(model.reference.line) + ") cannot be opened: " + model.open_error,
        "Give a local Hugging Face model folder (config.json and *.safetensors) or a .safetensors file, absolute or "
        "relative to the config file's folder; download hub models first (huggingface-cli download NAME "
        "--local-dir DIR).");
  }
}

void Checker::check_method() {
  try {
    find_merge_method(config_.merge_method);
  } catch (const Error& e) {
    add(CheckSeverity::error, "config", config_.where(config_.merge_method_line) + ": " + e.what(),
        "Set merge_method to one of the known methods.");
  }
}

void Checker::check_architectures() {
  std::map<std::string, std::vector<std::string>> by_architecture;
  std::vector<std::string> without_config;
  for (const auto index : merged_) {
    const InputModel& model = models_[index];
    if (!model.is_open()) continue;
    const std::string architecture = model.architecture();
    if (architecture.empty()) {
      without_config.push_back(quoted(model));
    } else {
      by_architecture[architecture].push_back(quoted(model));
    }
  }
  if (by_architecture.size() > 1) {
    std::string listing;
    for (const auto& [architecture, names] : by_architecture) {
      listing += (listing.empty() ? "" : "; ") + architecture + ": " + name_list(names);
    }
    add(CheckSeverity::error, "architecture", "the models have different architectures (" + listing + ")",
        "Merge models of one architecture, normally fine-tunes of one base model.");
  }
  if (!without_config.empty()) {
    add(CheckSeverity::note, "architecture",
        "no config.json for " + name_list(without_config) + ", so their architecture is not checked",
        "Point the config at the Hugging Face folder rather than the .safetensors file to have it checked.");
  }
}

void Checker::check_layers() {
  for (const auto index : merged_) {
    const InputModel& model = models_[index];
    if (!model.is_open()) continue;
    if (model.layer_count == 0) {
      add(CheckSeverity::warning, "layers", quoted(model) + " has no layer tensors (no '*.layers.N.*' names)",
          "Every tensor is merged by name; check that this is a transformer checkpoint.");
      continue;
    }
    std::vector<std::string> holes;
    for (std::int64_t layer = 0; layer < model.layer_count; ++layer) {
      if (!model.layers.count(layer)) holes.push_back(std::to_string(layer));
    }
    if (!holes.empty()) {
      add(CheckSeverity::error, "layers",
          quoted(model) + " has no tensors for layer(s) " + name_list(holes) + " of " + model.layer_stack +
              " (it has layers up to " + std::to_string(model.layer_count - 1) + ")",
          "The checkpoint is incomplete: check that every shard listed in its index is present.");
    }
    const auto configured = model.configured_layer_count();
    if (configured && *configured != model.layer_count) {
      add(CheckSeverity::warning, "layers",
          quoted(model) + ": config.json says " + std::to_string(*configured) + " layers, the tensors hold " +
              std::to_string(model.layer_count),
          "The tensors are what is merged; fix the model's config.json if it is the reference for the output.");
    }
  }
}

void Checker::check_layer_ranges() {
  auto count_of = [&](const ModelReference& reference) -> std::optional<std::int64_t> {
    const InputModel& model = models_.at(reference);
    if (!model.is_open()) return std::nullopt;
    return model.layer_count;
  };
  if (!config_.models.empty()) {
    std::map<std::int64_t, std::vector<std::string>> by_count;
    for (const auto& source : config_.models) {
      if (const auto count = count_of(source.model)) by_count[*count].push_back("'" + source.model.name + "'");
    }
    if (by_count.size() > 1) {
      std::string listing;
      for (const auto& [count, names] : by_count) {
        listing += (listing.empty() ? "" : "; ") + std::to_string(count) + " layers: " + name_list(names);
      }
      add(CheckSeverity::error, "layers", "the models have different numbers of layers (" + listing + ")",
          "Use slices with a layer_range per model to choose which layers are merged with which.");
    }
    return;
  }
  for (const auto& slice : config_.slices) {
    std::set<std::int64_t> lengths;
    for (const auto& source : slice.sources) {
      const auto [begin, end] = *source.layer_range;
      lengths.insert(end - begin);
      const auto count = count_of(source.model);
      if (count && end > *count) {
        add(CheckSeverity::error, "layers",
            config_.where(source.line) + ": " + source.key_path + " ('" + source.model.name + "'): layer_range [" +
                std::to_string(begin) + ", " + std::to_string(end) + "] is out of bounds: the model has " +
                std::to_string(*count) + " layers",
            "layer_range is [first, end) with the end excluded: for this model the widest range is [0, " +
                std::to_string(*count) + "].");
      }
    }
    if (lengths.size() > 1) {
      add(CheckSeverity::error, "layers",
          config_.where(slice.line) + ": " + slice.key_path + ": the sources cover different numbers of layers",
          "Every source of a slice must cover the same number of layers (output layer k merges layer first+k of "
          "each source).");
    }
  }
}

std::set<std::string> Checker::expected_names(const InputModel& model) const {
  const InputModel& reference = models_[*reference_];
  std::set<std::string> names(reference.other_tensors.begin(), reference.other_tensors.end());
  std::set<std::string> suffixes;
  for (const auto& [layer, layer_suffixes] : reference.layers) suffixes.insert(layer_suffixes.begin(), layer_suffixes.end());
  const std::string& stack = model.layer_stack.empty() ? reference.layer_stack : model.layer_stack;
  const std::int64_t count = model.layer_stack.empty() ? reference.layer_count : model.layer_count;
  for (std::int64_t layer = 0; layer < count; ++layer) {
    for (const auto& suffix : suffixes) names.insert(layer_tensor_name(stack, layer, suffix));
  }
  return names;
}

void Checker::check_tensors() {
  const InputModel& reference = models_[*reference_];
  for (const auto index : merged_) {
    if (index == *reference_ || !models_[index].is_open()) continue;
    const InputModel& model = models_[index];
    const std::set<std::string> expected = expected_names(model);
    const std::vector<std::string> actual_list = model.reader->names();
    const std::set<std::string> actual(actual_list.begin(), actual_list.end());
    std::vector<std::string> missing;
    std::vector<std::string> extra;
    std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(), std::back_inserter(missing));
    std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(), std::back_inserter(extra));
    if (!missing.empty()) {
      add(CheckSeverity::error, "tensors",
          quoted(model) + " lacks " + std::to_string(missing.size()) + " tensor(s) that the reference " +
              quoted(reference) + " has: " + name_list(missing),
          "Every merged model needs every tensor of the reference (the base model, else the first model): check "
          "that it is the same architecture and that the checkpoint is complete (all shards present).");
    }
    if (!extra.empty()) {
      add(CheckSeverity::warning, "tensors",
          quoted(model) + " has " + std::to_string(extra.size()) + " tensor(s) the reference " + quoted(reference) +
              " lacks, which are not merged: " + name_list(extra),
          "Nothing to do if these are extras (e.g. a separate lm_head on a model with tied embeddings); otherwise "
          "pick the model with the full set as base_model (or list it first).");
    }

    std::vector<std::string> mismatches;
    for (const auto& name : actual_list) {
      if (!expected.count(name)) continue;
      std::string counterpart = name;
      if (const auto layer = parse_layer_tensor_name(name); layer && layer->stack == model.layer_stack) {
        if (reference.layer_count == 0) continue;
        counterpart = layer_tensor_name(reference.layer_stack, std::min(layer->index, reference.layer_count - 1),
                                        layer->suffix);
      }
      if (!reference.reader->contains(counterpart)) continue;
      const auto& mine = model.reader->entry(name).shape;
      const auto& theirs = reference.reader->entry(counterpart).shape;
      if (mine == theirs) continue;
      const bool rows_only = mine.size() == theirs.size() && !mine.empty() &&
                             std::equal(mine.begin() + 1, mine.end(), theirs.begin() + 1);
      if (rows_only && is_vocabulary_tensor(name)) continue;  // reported as a vocabulary difference
      mismatches.push_back(name + " " + shape_text(mine) + " vs " + shape_text(theirs));
    }
    if (!mismatches.empty()) {
      add(CheckSeverity::error, "shapes",
          quoted(model) + " has " + std::to_string(mismatches.size()) + " tensor(s) shaped differently from " +
              quoted(reference) + ": " + name_list(mismatches, 3),
          "Only models of one size can be merged (same hidden, intermediate and head sizes): merge fine-tunes of "
          "one base model.");
    }
  }
}

void Checker::check_dtypes() {
  std::map<std::string, std::vector<std::string>> by_dtypes;
  for (const auto index : merged_) {
    const InputModel& model = models_[index];
    if (!model.is_open()) continue;
    std::set<std::string> dtypes;
    for (const auto& name : model.reader->names()) dtypes.insert(io::dtype_name(model.reader->entry(name).dtype));
    std::string text;
    for (const auto& dtype : dtypes) text += (text.empty() ? "" : "+") + dtype;
    by_dtypes[text].push_back(quoted(model));
  }
  if (by_dtypes.size() > 1) {
    std::string listing;
    for (const auto& [dtypes, names] : by_dtypes) listing += (listing.empty() ? "" : "; ") + dtypes + ": " + name_list(names);
    const std::string working = config_.dtype ? merge_dtype_name(*config_.dtype) : "float32";
    add(CheckSeverity::note, "dtypes", "the models are stored in different dtypes (" + listing + ")",
        "Every input is cast to the working dtype (" + working + ") before merging; set 'dtype' and 'out_dtype' to "
        "choose the precision of the math and of the output.");
  }
}

void Checker::check_vocabulary() {
  if (config_.tokenizer) return;  // every vocabulary matrix is remapped: check_output_vocabulary
  const InputModel& reference = models_[*reference_];
  for (const auto& name : reference.other_tensors) {
    if (!is_vocabulary_tensor(name)) continue;
    std::map<std::int64_t, std::vector<std::string>> by_rows;
    for (const auto index : merged_) {
      const InputModel& model = models_[index];
      if (!model.is_open() || !model.reader->contains(name)) continue;
      const auto& shape = model.reader->entry(name).shape;
      if (!shape.empty()) by_rows[shape.front()].push_back(quoted(model));
    }
    if (by_rows.size() < 2) continue;
    std::string listing;
    for (const auto& [rows, names] : by_rows) {
      listing += (listing.empty() ? "" : "; ") + std::to_string(rows) + " rows: " + name_list(names);
    }
    const std::int64_t fewest = by_rows.begin()->first;
    const std::int64_t reference_rows = reference.reader->entry(name).shape.front();
    std::string advice = "As mergekit does without a tokenizer setting, every model's matrix is cut to its first " +
                         std::to_string(fewest) + " rows (tokens added beyond them are dropped) and the output's "
                         "vocab_size becomes " + std::to_string(fewest) + ". The tokenizer is copied from " +
                         quoted(reference) + " (" + std::to_string(reference_rows) + " rows)";
    if (reference_rows > fewest) {
      advice += ": check that it has no more than " + std::to_string(fewest) +
                " tokens, or make a model with that vocabulary the base_model";
    }
    add(CheckSeverity::warning, "vocabulary", "vocabulary sizes differ for " + name + " (" + listing + ")",
        advice + ". To keep every token, set `tokenizer: {source: union}` (rows are then remapped token by "
        "token).");
  }
}

bool same_folder(const std::filesystem::path& a, const std::filesystem::path& b) {
  return std::filesystem::absolute(a).lexically_normal() == std::filesystem::absolute(b).lexically_normal();
}

// "id 32 '<|im_start|>', id 33 '<|im_end|>' and 3 more".
std::string token_list(const std::vector<VocabularyDifference::Token>& tokens) {
  std::vector<std::string> shown;
  for (const auto& token : tokens) shown.push_back("id " + std::to_string(token.id) + " '" + token.token + "'");
  return name_list(shown);
}

// The tokens each merged model's tokenizer gives each id, against the output's tokenizer, from the tokenizer files
// alone: the rows of the embeddings and LM heads are merged id by id, so an id that stands for different tokens
// merges unrelated rows. Tokenizers that cannot be read (or models without one) are left to the size comparison.
void Checker::check_tokens() {
  if (config_.tokenizer) return;  // rows are remapped token by token: check_output_vocabulary
  const auto folder = models_[*reference_].folder();
  if (!folder) return;
  const auto output = read_token_vocabulary(*folder);
  if (!output) return;
  const std::string output_name = "the output's tokenizer (" + folder->string() + ")";
  for (const auto index : merged_) {
    const InputModel& model = models_[index];
    const auto model_folder = model.folder();
    if (!model_folder || same_folder(*model_folder, *folder)) continue;
    const auto vocabulary = read_token_vocabulary(*model_folder);
    if (!vocabulary) continue;
    const VocabularyDifference difference = compare_vocabularies(*output, *vocabulary);
    if (!difference.mismatched.empty()) {
      std::vector<std::string> shown;
      for (const auto& m : difference.mismatched) {
        shown.push_back("id " + std::to_string(m.id) + " '" + m.model_token + "' (output: '" + m.output_token + "')");
      }
      add(CheckSeverity::error, "vocabulary",
          quoted(model) + " gives " + std::to_string(difference.mismatched.size()) +
              " token id(s) other tokens than " + output_name + ": " + name_list(shown),
          "Embedding and LM-head rows are merged id by id, so these rows would mix different tokens. Set "
          "`tokenizer: {source: base}` (or union) to remap every model's rows token by token.");
    }
    if (!difference.model_tail.empty()) {
      add(CheckSeverity::warning, "vocabulary",
          quoted(model) + " has " + std::to_string(difference.model_tail.size()) + " token(s) beyond the " +
              std::to_string(output->size()) + " of " + output_name + ": " + token_list(difference.model_tail),
          "The output has no such tokens: their rows are dropped (rows are cut to the smallest vocabulary). Set "
          "`tokenizer: {source: union}` to keep them (the models without them get mergekit's default rows).");
    }
    if (!difference.output_tail.empty()) {
      add(CheckSeverity::error, "vocabulary",
          output_name + " has " + std::to_string(difference.output_tail.size()) + " token(s) beyond the " +
              std::to_string(vocabulary->size()) + " of " + quoted(model) + ": " + token_list(difference.output_tail),
          "The merged rows stop at the smallest vocabulary, so these ids would have no embedding row. Set "
          "`tokenizer: {source: base}` (or union) to give the models that lack them mergekit's default rows.");
    }
  }
}

// "'<|im_start|>', '<|im_end|>' and 3 more".
std::string quoted_tokens(const std::vector<std::string>& tokens) {
  std::vector<std::string> shown;
  for (const auto& token : tokens) shown.push_back("'" + token + "'");
  return name_list(shown);
}

void Checker::describe_model_vocabulary(const OutputVocabulary& vocabulary, const VocabularyRemap& remap,
                                        std::size_t input) {
  const std::size_t index = merged_[input];
  const std::string name = quoted(models_[index]);
  std::vector<std::string> added;
  for (const auto& token : vocabulary.added) {
    if (remap.input_rows[input][token.id] >= 0) added.push_back(token.content);
  }
  if (!added.empty()) {
    report_.vocabulary_lines.push_back(name + ": adds " + std::to_string(added.size()) + " token(s) to the base "
                                       "vocabulary (" + quoted_tokens(added) + ")");
  }
  // The rows it takes from elsewhere, grouped by rule in the order first met.
  std::vector<std::pair<std::string, std::vector<std::string>>> by_rule;
  for (const auto slot : remap.replaced[input]) {
    const VocabularyRemap::DefaultRow& row = remap.defaults[slot];
    const bool forced = remap.input_rows[input][row.id] >= 0;
    const std::string rule = (forced ? "forced, rows = " : "rows = ") + row.why;
    auto found = std::find_if(by_rule.begin(), by_rule.end(), [&](const auto& entry) { return entry.first == rule; });
    if (found == by_rule.end()) found = by_rule.insert(by_rule.end(), {rule, {}});
    found->second.push_back(vocabulary.tokens[row.id]);
  }
  for (const auto& [rule, tokens] : by_rule) {
    const bool forced = rule.compare(0, 6, "forced") == 0;
    report_.vocabulary_lines.push_back(name + ": " + std::to_string(tokens.size()) + " token(s) " +
                                       (forced ? "it has replaced" : "missing") + " (" + quoted_tokens(tokens) +
                                       "): " + rule);
  }
  const auto& extra = vocabulary.model_extra.at(index);
  if (!extra.empty()) {
    report_.vocabulary_lines.push_back(name + ": " + std::to_string(extra.size()) + " of its token(s) are not in the "
                                       "output, their rows dropped (" + quoted_tokens(extra) + ")");
  }
  if (added.empty() && by_rule.empty() && extra.empty()) {
    report_.vocabulary_lines.push_back(name + ": has every output token and no other (rows in the output's order)");
  }
}

// The output vocabulary and what each rule will do to each model's rows, from the tokenizer files and tensor
// headers alone, as the planner builds them.
void Checker::check_output_vocabulary() {
  try {
    const OutputVocabulary vocabulary = build_output_vocabulary(config_, models_, merged_, *reference_);
    const std::int64_t tokens = static_cast<std::int64_t>(vocabulary.tokens.size());
    std::ostringstream line;
    line << "output: " << tokens << " tokens: " << vocabulary.kept << " of the tokenizer in "
         << vocabulary.tokenizer_folder.string();
    if (!vocabulary.added.empty()) line << ", then " << vocabulary.added.size() << " added";
    if (!vocabulary.dropped.empty()) {
      line << "; " << vocabulary.dropped.size() << " token(s) beyond its model's rows dropped ("
           << quoted_tokens(vocabulary.dropped) << ")";
    }
    report_.vocabulary_lines.push_back(line.str());
    if (vocabulary.rows > tokens) {
      report_.vocabulary_lines.push_back(
          "pad_to_multiple_of " + std::to_string(*config_.tokenizer->pad_to_multiple_of) + ": " +
          std::to_string(vocabulary.rows) + " rows, the " + std::to_string(vocabulary.rows - tokens) +
          " after the tokens = the mean of each model's token rows; config.json's vocab_size " +
          std::to_string(vocabulary.rows));
    }
    std::vector<std::int64_t> rows;
    for (const auto index : merged_) rows.push_back(model_vocabulary_rows(models_[index]).value_or(0));
    std::optional<std::size_t> base_input;
    if (config_.base_model) {
      const std::size_t base = models_.index_of(*config_.base_model);
      base_input = static_cast<std::size_t>(std::find(merged_.begin(), merged_.end(), base) - merged_.begin());
    }
    const VocabularyRemap remap =
        plan_vocabulary_remap(config_, vocabulary, models_, merged_, base_input, rows, "the vocabulary matrices");
    for (std::size_t input = 0; input < merged_.size(); ++input) describe_model_vocabulary(vocabulary, remap, input);
    for (const auto& [index, why] : vocabulary.assumed_base_ids) {
      add(CheckSeverity::warning, "vocabulary",
          quoted(models_[index]) + "'s tokenizer cannot be read (" + why + "): its rows are taken to have the base "
          "tokenizer's ids, as mergekit assumes",
          "Give the model its tokenizer files if its vocabulary differs from the base model's.");
    }
  } catch (const Error& e) {
    add(CheckSeverity::error, "vocabulary", e.what(), "Fix the tokenizer setting at the line named.");
  }
}

void Checker::try_planning() {
  try {
    const MergePlan plan = plan_merge(config_, models_);
    for (const auto& warning : plan.warnings) add(CheckSeverity::warning, "config", warning, "");
  } catch (const Error& e) {
    add(CheckSeverity::error, "config", e.what(), "Fix the configuration at the line named.");
  }
}

std::string Checker::model_line(std::size_t index) const {
  const InputModel& model = models_[index];
  std::ostringstream line;
  line << model.reference.name;
  if (!model.is_open()) return line.str() + ": cannot be opened";
  const std::string architecture = model.architecture();
  line << ": " << (architecture.empty() ? "no config.json" : architecture) << ", " << model.layer_count
       << " layers, " << model.reader->names().size() << " tensors, "
       << format_bytes(static_cast<double>(model.reader->tensor_bytes()));
  for (const auto& name : model.other_tensors) {
    if (is_vocabulary_tensor(name) && is_pre_layer_tensor(name) && !model.reader->entry(name).shape.empty()) {
      line << ", vocabulary " << model.reader->entry(name).shape.front();
      break;
    }
  }
  if (reference_ && index == *reference_) line << " (reference: tensor names and config.json)";
  return line.str();
}

MergeCheckReport Checker::run() {
  report_.config_label = config_.path.string();
  find_merged_models();
  for (std::size_t i = 0; i < models_.size(); ++i) report_.model_lines.push_back(model_line(i));
  check_opened();
  check_method();
  check_architectures();
  check_layers();
  check_layer_ranges();
  if (reference_) {
    check_tensors();
    check_vocabulary();
    check_tokens();
    if (config_.tokenizer) check_output_vocabulary();
  }
  check_dtypes();
  if (!report_.has_errors()) try_planning();
  return std::move(report_);
}

}  // namespace

bool MergeCheckReport::has_errors() const { return count(CheckSeverity::error) > 0; }

std::size_t MergeCheckReport::count(CheckSeverity severity) const {
  return static_cast<std::size_t>(std::count_if(findings.begin(), findings.end(),
                                                [&](const CheckFinding& finding) { return finding.severity == severity; }));
}

std::string MergeCheckReport::text() const {
  std::ostringstream text;
  text << "merge check: " << config_label << "\n";
  text << "models:\n";
  for (const auto& line : model_lines) text << "  " << line << "\n";
  if (!vocabulary_lines.empty()) {
    text << "vocabulary:\n";
    for (const auto& line : vocabulary_lines) text << "  " << line << "\n";
  }
  for (const auto severity : {CheckSeverity::error, CheckSeverity::warning, CheckSeverity::note}) {
    if (count(severity) == 0) continue;
    text << severity_heading(severity) << " (" << count(severity) << "):\n";
    for (const auto& finding : findings) {
      if (finding.severity != severity) continue;
      text << "  - [" << finding.topic << "] " << finding.message << "\n";
      if (!finding.advice.empty()) text << "    what to do: " << finding.advice << "\n";
    }
  }
  const std::size_t errors = count(CheckSeverity::error);
  const std::size_t warnings = count(CheckSeverity::warning);
  text << "result: " << errors << " error" << (errors == 1 ? "" : "s") << ", " << warnings << " warning"
       << (warnings == 1 ? "" : "s") << (errors ? ": the merge would stop before writing anything" : ": ready to merge")
       << "\n";
  return text.str();
}

MergeCheckReport check_merge(const MergeConfig& config, const InputModels& models) {
  return Checker(config, models).run();
}

}  // namespace ladle::merge
