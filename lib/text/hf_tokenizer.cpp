#include "lib/text/hf_tokenizer.h"

#include <algorithm>

#include "lib/io/strict_json.h"
#include "lib/io/text_file.h"
#include "lib/text/hf/json_field.h"
#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxTokenizerFileBytes = std::uintmax_t{512} << 20;
constexpr std::size_t kMaxJsonDepth = 64;

struct JsonFile {
  std::string name;  // the path, for errors
  nlohmann::json json;
};

std::optional<std::string> read_optional_text(const fs::path& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return std::nullopt;
  return io::read_text_file(path, kMaxTokenizerFileBytes);
}

JsonFile parse_json_file(const std::string& text, const fs::path& path) {
  return JsonFile{path.string(), io::parse_json_strict(text, path.string(), kMaxJsonDepth)};
}

// A special token named in tokenizer_config.json or special_tokens_map.json: "<s>", {"content": "<s>", ...} or
// null (none).
std::optional<std::string> special_token_name(const hf::JsonField& config, const char* key) {
  const auto value = config.optional(key);
  if (!value) return std::nullopt;
  if (value->is_string()) return value->string();
  if (value->is_object()) return (*value)["content"].string();
  value->fail("expected a token (a string or {\"content\": ...}) or null");
}

// tokenizer_config.json, then special_tokens_map.json over it (transformers' from_pretrained lets the map win).
struct SpecialTokenNames {
  std::optional<std::string> bos, eos, pad, unk;
  std::string bos_where, eos_where, pad_where;  // the file that named each, for errors
  std::optional<bool> add_bos_token;

  void read(const JsonFile& file) {
    const hf::JsonField root(file.json, file.name);
    if (!root.is_object()) root.fail("expected an object");
    const auto take = [&](const char* key, std::optional<std::string>& name, std::string* where) {
      if (!file.json.contains(key)) return;
      name = special_token_name(root, key);
      if (where) *where = file.name + ": " + key;
    };
    take("bos_token", bos, &bos_where);
    take("eos_token", eos, &eos_where);
    take("pad_token", pad, &pad_where);
    take("unk_token", unk, nullptr);
    if (const auto add_bos = root.optional("add_bos_token")) add_bos_token = add_bos->boolean();
  }
};

HfTokenizer::SpecialTokenTexts read_special_token_texts(const fs::path& folder) {
  return {read_optional_text(folder / "tokenizer_config.json"), read_optional_text(folder / "special_tokens_map.json")};
}

SpecialTokenNames special_token_names(const fs::path& folder, const HfTokenizer::SpecialTokenTexts& texts,
                                      SpecialTokenNames defaults = {}) {
  if (texts.tokenizer_config) {
    defaults.read(parse_json_file(*texts.tokenizer_config, folder / "tokenizer_config.json"));
  }
  if (texts.special_tokens_map) {
    defaults.read(parse_json_file(*texts.special_tokens_map, folder / "special_tokens_map.json"));
  }
  return defaults;
}

}  // namespace

struct HfTokenizer::Files {
  SpecialTokenNames specials;
};

std::unique_ptr<HfTokenizer> HfTokenizer::from_tokenizer_json(const fs::path& tokenizer_json) {
  const auto text = read_optional_text(tokenizer_json);
  if (!text) throw Error(tokenizer_json.string() + ": no such file");
  return from_tokenizer_json_text(*text, tokenizer_json, read_special_token_texts(tokenizer_json.parent_path()));
}

std::unique_ptr<HfTokenizer> HfTokenizer::from_tokenizer_json_text(const std::string& text,
                                                                   const fs::path& tokenizer_json,
                                                                   const SpecialTokenTexts& special_tokens) {
  const JsonFile file = parse_json_file(text, tokenizer_json);
  const hf::JsonField root(file.json, file.name);
  if (!root.is_object()) root.fail("expected an object");
  for (const char* key : {"truncation", "padding"}) {
    if (const auto value = root.optional(key)) {
      value->fail("is not supported (ladle truncates and pads where its data pipeline says; expected null)");
    }
  }
  std::unique_ptr<HfTokenizer> tokenizer(new HfTokenizer());
  if (const auto normalizer = root.optional("normalizer")) tokenizer->normalizer_ = hf::parse_normalizer(*normalizer);
  if (const auto pre = root.optional("pre_tokenizer")) tokenizer->pre_tokenizer_ = hf::parse_pre_tokenizer(*pre);
  const hf::JsonField model = root["model"];
  const std::string type = model.string_or("type", model.optional("merges") ? "BPE" : "");
  if (type != "BPE") model.fail("model type '" + type + "' is not supported (ladle supports: BPE)");
  tokenizer->model_ = hf::BpeModel::from_json(model);
  if (const auto post = root.optional("post_processor")) tokenizer->post_processor_ = hf::parse_post_processor(*post);
  if (const auto decoder = root.optional("decoder")) tokenizer->decoder_ = hf::parse_decoder(*decoder);
  std::vector<hf::AddedToken> added;
  if (const auto list = root.optional("added_tokens")) added = hf::parse_added_tokens(*list);
  for (std::size_t i = 0; i < added.size(); ++i) {
    const auto id = tokenizer->model_->vocabulary().find(added[i].content);
    if (id && *id != added[i].id) {
      root["added_tokens"].at(i).fail("added token '" + added[i].content + "' has id " + std::to_string(added[i].id) +
                                      " but the model's vocabulary gives it id " + std::to_string(*id));
    }
  }
  tokenizer->added_ = std::make_unique<hf::AddedVocabulary>(std::move(added), tokenizer->normalizer_.get());
  Files files{special_token_names(tokenizer_json.parent_path(), special_tokens)};
  tokenizer->finish(files);
  // The post-processor's ids come from its own table, not the vocabulary: an id with no token would reach the
  // model's embedding as an out-of-range index.
  if (tokenizer->post_processor_) {
    for (const auto id : tokenizer->post_processor_->process({})) {
      if (!tokenizer->token(id)) {
        root["post_processor"].fail("adds token id " + std::to_string(id) + ", which has no token in the vocabulary");
      }
    }
  }
  return tokenizer;
}

std::unique_ptr<HfTokenizer> HfTokenizer::from_vocab_and_merges(const fs::path& folder) {
  std::error_code error;
  if (fs::exists(folder / "added_tokens.json", error)) {
    throw Error((folder / "added_tokens.json").string() +
                ": is not supported (convert the folder to tokenizer.json with Hugging Face's tokenizers)");
  }
  std::unique_ptr<HfTokenizer> tokenizer(new HfTokenizer());
  tokenizer->model_ = hf::BpeModel::from_files(folder / "vocab.json", folder / "merges.txt");
  tokenizer->pre_tokenizer_ = hf::gpt2_pre_tokenizer();
  tokenizer->decoder_ = hf::byte_level_decoder();
  // GPT2Tokenizer's defaults (transformers models/gpt2/tokenization_gpt2.py): unk, bos and eos "<|endoftext|>".
  SpecialTokenNames defaults;
  defaults.bos = defaults.eos = defaults.unk = "<|endoftext|>";
  defaults.bos_where = defaults.eos_where = "GPT-2's default bos/eos token";
  Files files{special_token_names(folder, read_special_token_texts(folder), defaults)};
  // The special tokens are added tokens matched in raw text, as GPT2TokenizerFast registers them.
  std::vector<hf::AddedToken> added;
  for (const auto& name : {files.specials.bos, files.specials.eos, files.specials.unk, files.specials.pad}) {
    if (!name) continue;
    const auto id = tokenizer->model_->vocabulary().find(*name);
    const bool seen = std::any_of(added.begin(), added.end(), [&](const auto& token) { return token.content == *name; });
    if (id && !seen) added.push_back({*name, *id, true, false, false, false, false});
  }
  tokenizer->added_ = std::make_unique<hf::AddedVocabulary>(std::move(added), nullptr);
  tokenizer->finish(files);
  return tokenizer;
}

void HfTokenizer::finish(const Files& files) {
  for (const auto& entry : model_->vocabulary().entries()) tokens_by_id_[entry.id] = entry.token;
  for (const auto& token : added_->tokens()) tokens_by_id_[token.id] = token.content;  // an added token wins
  for (const auto& [id, token] : tokens_by_id_) vocab_size_ = std::max(vocab_size_, std::int64_t{id} + 1);
  const auto resolve = [&](const std::optional<std::string>& name, const std::string& where) {
    std::optional<std::int64_t> id;
    if (!name) return id;
    id = piece_id(*name);
    if (!id) throw Error(where + ": token '" + *name + "' is not in the vocabulary");
    return id;
  };
  bos_id_ = resolve(files.specials.bos, files.specials.bos_where);
  eos_id_ = resolve(files.specials.eos, files.specials.eos_where);
  pad_id_ = resolve(files.specials.pad, files.specials.pad_where);
  if (files.specials.add_bos_token) {
    add_bos_token_ = *files.specials.add_bos_token;
  } else {
    const auto specials = post_processor_ ? post_processor_->process({}) : std::vector<std::int64_t>{};
    add_bos_token_ = bos_id_ && !specials.empty() && specials.front() == *bos_id_;
  }
}

std::vector<std::int64_t> HfTokenizer::encode(const std::string& text) const {
  require_valid_utf8(text, "the text to encode");
  std::vector<std::int64_t> ids;
  ids.reserve(text.size() / 3);
  std::vector<hf::Piece> pieces;
  for (const auto& segment : added_->split_raw(text)) {
    if (segment.id) {
      ids.push_back(*segment.id);
      continue;
    }
    std::string normalized = text.substr(segment.begin, segment.end - segment.begin);
    if (normalizer_) normalized = normalizer_->normalize(std::move(normalized));
    for (const auto& part : added_->split_normalized(normalized)) {
      if (part.id) {
        ids.push_back(*part.id);
        continue;
      }
      pieces.clear();
      pieces.push_back({normalized.substr(part.begin, part.end - part.begin), segment.begin == 0 && part.begin == 0});
      if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pieces);
      for (const auto& piece : pieces) model_->encode_word(piece.text, ids);
    }
  }
  return ids;
}

std::vector<std::int64_t> HfTokenizer::encode_with_special_tokens(const std::string& text) const {
  auto ids = encode(text);
  return post_processor_ ? post_processor_->process(std::move(ids)) : ids;
}

std::optional<std::string> HfTokenizer::token(std::int64_t id) const {
  if (id < 0 || id >= vocab_size()) return std::nullopt;
  const auto found = tokens_by_id_.find(static_cast<std::uint32_t>(id));
  if (found == tokens_by_id_.end()) return std::nullopt;
  return found->second;
}

std::string HfTokenizer::token_of(std::int64_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(vocab_size()) +
                ")");
  }
  auto found = token(id);
  if (!found) throw Error("token id " + std::to_string(id) + " has no token in this tokenizer");
  return std::move(*found);
}

std::string HfTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  // tokenizers/src/tokenizer/mod.rs decode: ids to token strings, special tokens skipped, then the decoder.
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const auto id : ids) {
    std::string token = token_of(id);
    if (!is_special(id)) tokens.push_back(std::move(token));
  }
  if (!decoder_) {
    std::string joined;
    for (std::size_t i = 0; i < tokens.size(); ++i) joined += (i ? " " : "") + tokens[i];
    return joined;
  }
  std::string text;
  for (const auto& part : decoder_->decode_chain(std::move(tokens))) text += part;
  return text;
}

bool HfTokenizer::is_special(std::int64_t id) const {
  const hf::AddedToken* added = id >= 0 && id < vocab_size() ? added_->find(static_cast<std::uint32_t>(id)) : nullptr;
  return added && added->special;
}

std::optional<std::int64_t> HfTokenizer::piece_id(const std::string& piece) const {
  if (const hf::AddedToken* added = added_->find(piece)) return added->id;
  if (const auto id = model_->vocabulary().find(piece)) return *id;
  return std::nullopt;
}

}  // namespace ladle::text
