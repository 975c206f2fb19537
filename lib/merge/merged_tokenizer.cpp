#include "lib/merge/merged_tokenizer.h"

#include <set>
#include <system_error>

#include "lib/io/json_file.h"
#include "lib/io/model_folder.h"
#include "lib/io/strict_json.h"
#include "lib/io/temporary_file.h"
#include "lib/io/text_file.h"
#include "lib/log/log.h"
#include "lib/text/sentencepiece_model_pieces.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Hugging Face's serialization of an AddedToken (tokenizer.json's added_tokens; tokenizer_config.json's
// added_tokens_decoder without the id).
json added_token_json(const text::hf::AddedToken& token, bool with_id) {
  json entry = json::object();
  if (with_id) entry["id"] = token.id;
  entry["content"] = token.content;
  entry["single_word"] = token.single_word;
  entry["lstrip"] = token.lstrip;
  entry["rstrip"] = token.rstrip;
  entry["normalized"] = token.normalized;
  entry["special"] = token.special;
  return entry;
}

// A merge of tokenizer.json's model: "a b" or ["a", "b"].
bool merge_uses(const json& merge, const std::set<std::string>& tokens) {
  if (merge.is_string()) {
    const std::string text = merge.get<std::string>();
    const auto space = text.find(' ');
    return tokens.count(text.substr(0, space)) || (space != std::string::npos && tokens.count(text.substr(space + 1)));
  }
  if (merge.is_array()) {
    for (const auto& part : merge) {
      if (part.is_string() && tokens.count(part.get<std::string>())) return true;
    }
  }
  return false;
}

std::string rewritten_tokenizer_json(const fs::path& path, const OutputVocabulary& vocabulary) {
  // Not read_json_file: a tokenizer.json is megabytes (Qwen3's 11 MB), beyond what that reader takes.
  json root = io::parse_json_strict(io::read_text_file(path, io::kNoSizeLimit), path.string(), 64);
  const std::set<std::string> dropped(vocabulary.dropped.begin(), vocabulary.dropped.end());
  json added = json::array();
  for (const auto& entry : root.value("added_tokens", json::array())) {
    if (!(entry.contains("content") && entry["content"].is_string() &&
          dropped.count(entry["content"].get<std::string>()))) {
      added.push_back(entry);
    }
  }
  if (!dropped.empty() && root.contains("model") && root["model"].is_object()) {
    json& model = root["model"];
    if (model.contains("vocab") && model["vocab"].is_object()) {
      for (const auto& token : dropped) model["vocab"].erase(token);
    }
    if (model.contains("merges") && model["merges"].is_array()) {
      json kept = json::array();
      for (const auto& merge : model["merges"]) {
        if (!merge_uses(merge, dropped)) kept.push_back(merge);
      }
      model["merges"] = std::move(kept);
    }
  }
  for (const auto& token : vocabulary.added) added.push_back(added_token_json(token, true));
  root["added_tokens"] = std::move(added);
  return root.dump(2) + "\n";
}

std::string rewritten_tokenizer_config(const std::optional<fs::path>& path, const MergePlan& plan) {
  json config = path ? io::read_json_file(*path, 64) : json::object();
  if (plan.vocabulary) {
    const OutputVocabulary& vocabulary = *plan.vocabulary;
    if (config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
      json kept = json::object();
      for (const auto& [id, entry] : config["added_tokens_decoder"].items()) {
        std::int64_t number = -1;
        try {
          number = std::stoll(id);
        } catch (const std::exception&) {
        }
        if (number >= 0 && number < vocabulary.kept) kept[id] = entry;
      }
      config["added_tokens_decoder"] = std::move(kept);
    }
    if (!vocabulary.added.empty()) {
      json& decoder = config["added_tokens_decoder"];
      if (!decoder.is_object()) decoder = json::object();
      for (const auto& token : vocabulary.added) decoder[std::to_string(token.id)] = added_token_json(token, false);
    }
  }
  if (plan.chat_template) config["chat_template"] = *plan.chat_template;
  return config.dump(2) + "\n";
}

std::string rewritten_added_tokens(const fs::path& path, const OutputVocabulary& vocabulary) {
  json tokens = io::read_json_file(path, 8);
  if (!tokens.is_object()) throw Error(path.string() + ": expected an object of tokens to ids");
  for (const auto& token : vocabulary.dropped) tokens.erase(token);
  for (const auto& token : vocabulary.added) tokens[token.content] = token.id;
  return tokens.dump(2) + "\n";
}

// The sentencepiece model with the added tokens appended; libsentencepiece loads it to confirm every id.
std::string extended_sentencepiece_model(const fs::path& path, const OutputVocabulary& vocabulary) {
  if (!vocabulary.dropped.empty()) {
    throw Error(path.string() + ": the tokenizer has " + std::to_string(vocabulary.dropped.size()) +
                " piece(s) beyond the model's vocabulary rows, and ladle does not remove pieces from a sentencepiece "
                "model; give the output a tokenizer whose pieces all have rows (tokenizer.source)");
  }
  const std::string original = io::read_text_file(path, io::kNoSizeLimit);
  if (vocabulary.added.empty()) return original;
  const text::SentencePieceTokenizer before(path);
  if (before.vocab_size() != vocabulary.kept) {
    throw Error(path.string() + ": has " + std::to_string(before.vocab_size()) +
                " pieces but the tokenizer the output vocabulary was built from has " +
                std::to_string(vocabulary.kept) + " tokens, so appended pieces would not get the ids of their rows");
  }
  std::vector<std::string> pieces;
  for (const auto& token : vocabulary.added) pieces.push_back(token.content);
  const std::string extended = text::append_user_defined_pieces(original, pieces);
  const io::TemporaryFile file("tokenizer-model", extended);
  const text::SentencePieceTokenizer after(file.path());
  for (const auto& token : vocabulary.added) {
    const auto id = after.piece_id(token.content);
    if (!id || *id != token.id) {
      throw Error(path.string() + ": the piece '" + token.content + "' appended as a USER_DEFINED piece got id " +
                  (id ? std::to_string(*id) : "none") + ", not " + std::to_string(token.id) +
                  " (sentencepiece already has it as another kind of piece?)");
    }
  }
  return extended;
}

bool is_vocabulary_file(const std::string& name) {
  return name == "tokenizer.json" || name == "tokenizer.model" || name == "vocab.json";
}

}  // namespace

void add_text_file(io::CheckpointWriter& writer, const std::string& name, const std::string& contents) {
  const io::TemporaryFile file(name, contents);
  writer.copy_file(file.path(), name);
}

void add_merged_tokenizer(const MergePlan& plan, io::CheckpointWriter& writer) {
  if (!plan.tokenizer_folder) return;
  const fs::path& folder = *plan.tokenizer_folder;
  const OutputVocabulary* vocabulary = plan.vocabulary ? &*plan.vocabulary : nullptr;
  const bool changes_ids = vocabulary && (!vocabulary->added.empty() || !vocabulary->dropped.empty());
  std::error_code error;
  const auto present = [&](const std::string& name) { return fs::is_regular_file(folder / name, error); };
  bool has_vocabulary = false;
  std::size_t written = 0;
  for (const auto& name : io::tokenizer_file_names()) {
    if (plan.chat_template && (name == "chat_template.jinja" || name == "chat_template.json")) continue;
    if (!present(name) && !(name == "tokenizer_config.json" && plan.chat_template)) continue;
    has_vocabulary = has_vocabulary || is_vocabulary_file(name);
    const fs::path source = folder / name;
    if (name == "tokenizer_config.json" && (changes_ids || plan.chat_template)) {
      add_text_file(writer, name,
                    rewritten_tokenizer_config(present(name) ? std::optional<fs::path>(source) : std::nullopt, plan));
    } else if (changes_ids && name == "tokenizer.json") {
      add_text_file(writer, name, rewritten_tokenizer_json(source, *vocabulary));
    } else if (changes_ids && name == "tokenizer.model") {
      if (vocabulary->tokenizer.location.format != text::TokenizerFormat::sentencepiece &&
          text::SentencePieceTokenizer(source).vocab_size() != vocabulary->kept) {
        // tokenizer.json defines the ids and holds tokens the sentencepiece model lacks (a pad token, say):
        // appended pieces could not get their rows' ids, and a stale copy would contradict tokenizer.json.
        LADLE_LOG(warning) << source.string() << " is not written: its pieces are not tokenizer.json's first "
                           << vocabulary->kept << " tokens, so the added tokens cannot be appended to it; "
                           << "tokenizer.json holds the output's vocabulary";
        continue;
      }
      add_text_file(writer, name, extended_sentencepiece_model(source, *vocabulary));
    } else if (changes_ids && name == "added_tokens.json") {
      add_text_file(writer, name, rewritten_added_tokens(source, *vocabulary));
    } else if (changes_ids && name == "vocab.json" && !present("tokenizer.json")) {
      throw Error(source.string() + ": GPT-2's vocab.json + merges.txt cannot hold the " +
                  std::to_string(vocabulary->added.size()) +
                  " added token(s) in a form ladle reads; give the tokenizer source a tokenizer.json (Hugging Face's "
                  "tokenizers converts the pair)");
    } else {
      writer.copy_file(source, name);
    }
    ++written;
  }
  if (!has_vocabulary) {
    const std::string message = folder.string() + " has no tokenizer (tokenizer.json, tokenizer.model or vocab.json)";
    if (plan.tokenizer_required) throw Error("tokenizer: " + message);
    LADLE_LOG(warning) << message << "; the merged model has none either: copy one into it";
    return;
  }
  LADLE_LOG(info) << "wrote " << written << " tokenizer file(s) from " << folder.string()
                  << (vocabulary ? " (" + std::to_string(vocabulary->added.size()) + " token(s) added, " +
                                       std::to_string(vocabulary->dropped.size()) + " dropped)"
                                 : "");
}

}  // namespace ladle::merge
