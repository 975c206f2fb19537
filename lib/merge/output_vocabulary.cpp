#include "lib/merge/output_vocabulary.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "lib/merge/tensor_names.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

// Token -> id, over the ids below `limit` (every id when it is none).
std::unordered_map<std::string, std::int64_t> ids_by_token(const TokenVocabulary& tokens,
                                                           std::optional<std::int64_t> limit = std::nullopt) {
  std::unordered_map<std::string, std::int64_t> ids;
  const auto end = static_cast<std::int64_t>(tokens.size());
  for (std::int64_t id = 0; id < (limit ? std::min(*limit, end) : end); ++id) {
    if (!tokens[id].empty()) ids.emplace(tokens[id], id);
  }
  return ids;
}

// The settings transformers' tokenizer.add_tokens(str) gives a token: matched in normalized text, not special.
text::hf::AddedToken plain_added_token(const std::string& content) {
  text::hf::AddedToken token;
  token.content = content;
  token.normalized = true;
  return token;
}

class VocabularyBuilder {
 public:
  VocabularyBuilder(const MergeConfig& config, const InputModels& models, const std::vector<std::size_t>& merged,
                    std::size_t reference)
      : config_(config), settings_(*config.tokenizer), models_(models), merged_(merged), reference_(reference) {}

  OutputVocabulary build();

 private:
  [[noreturn]] void fail(int line, const std::string& key, const std::string& message) const {
    throw Error(config_.where(line) + ": " + key + ": " + message);
  }
  std::size_t base_model() const;
  TokenizerContents read_required(const fs::path& folder, const std::string& whose) const;
  void read_model_tokenizers();
  void start_from(const TokenizerContents& tokenizer, std::optional<std::int64_t> rows);
  void append(const text::hf::AddedToken& token);
  void add_union_tokens();
  std::size_t merged_model(const ModelReference& reference, int line, const std::string& key) const;
  void resolve_rules();
  void map_models();

  const MergeConfig& config_;
  const TokenizerSettings& settings_;
  const InputModels& models_;
  const std::vector<std::size_t>& merged_;
  std::size_t reference_;
  std::map<std::size_t, TokenizerContents> tokenizers_;  // merged models whose tokenizer could be read
  std::unordered_map<std::string, std::int64_t> output_ids_;
  OutputVocabulary out_;
};

std::size_t VocabularyBuilder::base_model() const {
  return config_.base_model ? models_.index_of(*config_.base_model) : reference_;
}

TokenizerContents VocabularyBuilder::read_required(const fs::path& folder, const std::string& whose) const {
  std::optional<TokenizerContents> contents;
  try {
    contents = read_tokenizer_contents(folder);
  } catch (const Error& e) {
    fail(settings_.source.line, settings_.key, "expected " + whose + " tokenizer to be readable: " + e.what());
  }
  if (!contents) {
    fail(settings_.source.line, settings_.key,
         "expected " + whose + " tokenizer (tokenizer.json, vocab.json + merges.txt or tokenizer.model) in " +
             folder.string() + ", found none");
  }
  return std::move(*contents);
}

void VocabularyBuilder::read_model_tokenizers() {
  for (const auto index : merged_) {
    const auto folder = models_[index].folder();
    try {
      auto contents = folder ? read_tokenizer_contents(*folder) : std::nullopt;
      if (contents) {
        tokenizers_.emplace(index, std::move(*contents));
      } else {
        out_.assumed_base_ids[index] = "it has no tokenizer files";
      }
    } catch (const Error& e) {
      out_.assumed_base_ids[index] = e.what();
    }
  }
}

void VocabularyBuilder::start_from(const TokenizerContents& tokenizer, std::optional<std::int64_t> rows) {
  out_.tokenizer = tokenizer;
  out_.tokens = tokenizer.tokens;
  if (rows && *rows < static_cast<std::int64_t>(out_.tokens.size())) {
    for (std::size_t id = static_cast<std::size_t>(*rows); id < out_.tokens.size(); ++id) {
      if (!out_.tokens[id].empty()) out_.dropped.push_back(out_.tokens[id]);
    }
    out_.tokens.resize(static_cast<std::size_t>(*rows));
  }
  out_.kept = static_cast<std::int64_t>(out_.tokens.size());
  output_ids_ = ids_by_token(out_.tokens);
}

void VocabularyBuilder::append(const text::hf::AddedToken& token) {
  if (output_ids_.count(token.content)) return;
  text::hf::AddedToken added = token;
  added.id = static_cast<std::uint32_t>(out_.tokens.size());
  output_ids_.emplace(added.content, added.id);
  out_.tokens.push_back(added.content);
  out_.added.push_back(std::move(added));
}

// build_union_tokenizer: every model's ordinary tokens below its rows first, then its added tokens.
void VocabularyBuilder::add_union_tokens() {
  std::vector<std::size_t> order = {out_.base_model};
  for (const auto index : merged_) {
    if (index != out_.base_model) order.push_back(index);
  }
  std::vector<std::string> ordinary;
  std::unordered_set<std::string> seen;
  std::vector<text::hf::AddedToken> added;
  std::unordered_set<std::string> added_seen;
  for (const auto index : order) {
    const auto found = tokenizers_.find(index);
    if (found == tokenizers_.end()) continue;
    const TokenizerContents& tokenizer = found->second;
    const auto rows = model_vocabulary_rows(models_[index]);
    const auto limit = static_cast<std::int64_t>(tokenizer.tokens.size());
    const std::int64_t end = rows ? std::min(*rows, limit) : limit;
    std::unordered_set<std::string> added_here;
    for (const auto& token : tokenizer.added) {
      added_here.insert(token.content);
      if (token.id < end && added_seen.insert(token.content).second) added.push_back(token);
    }
    for (std::int64_t id = 0; id < end; ++id) {
      const std::string& token = tokenizer.tokens[id];
      if (!token.empty() && !added_here.count(token) && seen.insert(token).second) ordinary.push_back(token);
    }
  }
  for (const auto& token : ordinary) {
    if (!added_seen.count(token)) append(plain_added_token(token));
  }
  for (const auto& token : added) append(token);
}

std::size_t VocabularyBuilder::merged_model(const ModelReference& reference, int line, const std::string& key) const {
  std::vector<std::string> names;
  for (const auto index : merged_) {
    if (models_[index].reference == reference) return index;
    names.push_back("'" + models_[index].reference.name + "'");
  }
  std::string listing;
  for (const auto& name : names) listing += (listing.empty() ? "" : ", ") + name;
  fail(line, key, "expected one of the merged models (" + listing + "), got '" + reference.name + "'");
}

void VocabularyBuilder::resolve_rules() {
  for (const auto& token : settings_.tokens) {
    const TokenRowSource& source = *token.source;
    TokenRule rule;
    rule.id = output_ids_.at(token.token);
    rule.kind = source.kind;
    rule.force = token.force;
    const std::string key = token.key + ".source";
    if (source.kind == TokenRowSource::Kind::zero) {
      rule.description = "zero (tokens: " + token.token + ")";
    } else {
      rule.model = merged_model(*source.model, source.line,
                                key + (source.kind == TokenRowSource::Kind::model_token ? ".model" : ""));
      const std::string model = "'" + source.model->name + "'";
      if (source.kind == TokenRowSource::Kind::model) {
        rule.description = model + "'s row (tokens: " + token.token + ")";
      } else {
        const auto found = tokenizers_.find(rule.model);
        const TokenVocabulary& vocabulary = found != tokenizers_.end() ? found->second.tokens : out_.tokenizer.tokens;
        const auto rows = model_vocabulary_rows(models_[rule.model]);
        if (source.token) {
          const auto ids = ids_by_token(vocabulary);
          const auto id = ids.find(*source.token);
          if (id == ids.end()) {
            fail(source.line, key + ".token",
                 "expected a token of " + model + "'s tokenizer, got '" + *source.token + "', which it does not have");
          }
          rule.model_id = id->second;
        } else {
          rule.model_id = *source.token_id;
        }
        if (rows && rule.model_id >= *rows) {
          fail(source.line, key + (source.token ? ".token" : ".token_id"),
               "expected a token id below " + model + "'s " + std::to_string(*rows) + " vocabulary rows, got " +
                   std::to_string(rule.model_id));
        }
        rule.description = model + "'s row of " +
                           (source.token ? "'" + *source.token + "'" : "id " + std::to_string(rule.model_id)) +
                           " (tokens: " + token.token + ")";
      }
    }
    out_.rules.push_back(std::move(rule));
  }
}

void VocabularyBuilder::map_models() {
  const auto base_tokenizer = tokenizers_.find(out_.base_model);
  for (const auto index : merged_) {
    const auto found = tokenizers_.find(index);
    const TokenVocabulary& vocabulary = found != tokenizers_.end()            ? found->second.tokens
                                        : base_tokenizer != tokenizers_.end() ? base_tokenizer->second.tokens
                                                                              : out_.tokenizer.tokens;
    const auto rows = model_vocabulary_rows(models_[index]);
    const auto ids = ids_by_token(vocabulary, rows);
    std::vector<std::int64_t>& map = out_.model_ids[index];
    map.assign(out_.tokens.size(), -1);
    for (std::size_t id = 0; id < out_.tokens.size(); ++id) {
      if (out_.tokens[id].empty()) continue;
      const auto mine = ids.find(out_.tokens[id]);
      if (mine != ids.end()) map[id] = mine->second;
    }
    std::vector<std::string>& extra = out_.model_extra[index];
    for (std::int64_t id = 0; id < static_cast<std::int64_t>(vocabulary.size()) && (!rows || id < *rows); ++id) {
      if (!vocabulary[id].empty() && !output_ids_.count(vocabulary[id])) extra.push_back(vocabulary[id]);
    }
  }
}

OutputVocabulary VocabularyBuilder::build() {
  out_.base_model = base_model();
  read_model_tokenizers();
  const TokenizerSource& source = settings_.source;
  if (source.kind == TokenizerSource::Kind::model) {
    std::error_code error;
    if (!fs::is_directory(source.model->path, error)) {
      fail(source.line, settings_.key,
           "expected a model folder holding tokenizer files, got '" + source.model->name + "' (" +
               source.model->path.string() + ")");
    }
    out_.tokenizer_folder = source.model->path;
    start_from(read_required(out_.tokenizer_folder, "'" + source.model->name + "''s"), std::nullopt);
  } else {
    const InputModel& base = models_[out_.base_model];
    const auto folder = base.folder();
    if (!folder) {
      fail(source.line, settings_.key,
           "expected the base model '" + base.reference.name +
               "' to be a folder with tokenizer files, got a single file");
    }
    out_.tokenizer_folder = *folder;
    const auto found = tokenizers_.find(out_.base_model);
    start_from(found != tokenizers_.end() ? found->second
                                          : read_required(*folder, "the base model '" + base.reference.name + "''s"),
               model_vocabulary_rows(base));
    if (source.kind == TokenizerSource::Kind::union_of_models) add_union_tokens();
  }
  for (const auto& token : settings_.tokens) append(plain_added_token(token.token));
  resolve_rules();
  map_models();
  out_.rows = static_cast<std::int64_t>(out_.tokens.size());
  if (settings_.pad_to_multiple_of) {
    const std::int64_t multiple = *settings_.pad_to_multiple_of;
    out_.rows = (out_.rows + multiple - 1) / multiple * multiple;
  }
  return std::move(out_);
}

}  // namespace

std::optional<std::int64_t> model_vocabulary_rows(const InputModel& model) {
  if (!model.is_open()) return std::nullopt;
  std::optional<std::int64_t> any;
  for (const auto& name : model.other_tensors) {
    if (!is_vocabulary_tensor(name)) continue;
    const auto& shape = model.reader->entry(name).shape;
    if (shape.empty()) continue;
    if (is_pre_layer_tensor(name)) return shape.front();
    if (!any) any = shape.front();
  }
  if (any) return any;
  const auto& config = model.reader->config();
  if (config && config->contains("vocab_size") && (*config)["vocab_size"].is_number_integer()) {
    return (*config)["vocab_size"].get<std::int64_t>();
  }
  return std::nullopt;
}

OutputVocabulary build_output_vocabulary(const MergeConfig& config, const InputModels& models,
                                         const std::vector<std::size_t>& merged, std::size_t reference) {
  return VocabularyBuilder(config, models, merged, reference).build();
}

}  // namespace ladle::merge
