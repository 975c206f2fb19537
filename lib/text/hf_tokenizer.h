// HfTokenizer: a Hugging Face tokenizer (the tokenizer.json of Llama 3, Qwen, Gemma, DeepSeek, ... or GPT-2's
// vocab.json + merges.txt), encoding text to the same ids as Hugging Face's own implementations.
//
// Encoding runs tokenizers/src/tokenizer/mod.rs's pipeline: added tokens found in the raw text, the rest
// normalized, normalized added tokens found, pre-tokenized into words, each word byte-pair encoded
// (lib/text/hf/). The special ids (bos, eos, pad) are those tokenizer_config.json names (special_tokens_map.json
// overriding it, as transformers' from_pretrained does). A construct ladle does not implement is an error naming
// it, never an approximation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/text/hf/added_vocabulary.h"
#include "lib/text/hf/bpe_model.h"
#include "lib/text/hf/decoder.h"
#include "lib/text/hf/normalizer.h"
#include "lib/text/hf/post_processor.h"
#include "lib/text/hf/pre_tokenizer.h"
#include "lib/text/tokenizer.h"

namespace ladle::text {

class HfTokenizer final : public Tokenizer {
 public:
  // tokenizer.json, with tokenizer_config.json and special_tokens_map.json from its folder when present.
  // Throws ladle::Error naming the file and the field for anything malformed or unsupported.
  static std::unique_ptr<HfTokenizer> from_tokenizer_json(const std::filesystem::path& tokenizer_json);
  // The texts of the files beside tokenizer.json that name its special tokens, each when the folder has it.
  struct SpecialTokenTexts {
    std::optional<std::string> tokenizer_config;    // tokenizer_config.json
    std::optional<std::string> special_tokens_map;  // special_tokens_map.json (its tokens win)
  };
  // The same from the files' texts; `tokenizer_json` names the files in messages (its folder's
  // tokenizer_config.json, ...) and nothing is read.
  static std::unique_ptr<HfTokenizer> from_tokenizer_json_text(const std::string& text,
                                                               const std::filesystem::path& tokenizer_json,
                                                               const SpecialTokenTexts& special_tokens = {});
  // A folder with GPT-2's vocab.json and merges.txt (and optionally tokenizer_config.json and
  // special_tokens_map.json): GPT2TokenizerFast's pipeline, with its defaults bos = eos = unk = "<|endoftext|>".
  static std::unique_ptr<HfTokenizer> from_vocab_and_merges(const std::filesystem::path& folder);

  // Token ids of UTF-8 text, without the post-processor's special tokens. Throws ladle::Error for invalid UTF-8.
  std::vector<std::int64_t> encode(const std::string& text) const override;
  // encode() with the post-processor's special tokens (e.g. Llama 3's <|begin_of_text|>), as Hugging Face's
  // encode(text, add_special_tokens=True) gives them.
  std::vector<std::int64_t> encode_with_special_tokens(const std::string& text) const;
  // Text of token ids, special tokens skipped (Hugging Face's skip_special_tokens=True). Throws ladle::Error
  // for an id outside [0, vocab_size()) or one that has no token.
  std::string decode(const std::vector<std::int64_t>& ids) const override;

  std::int64_t vocab_size() const override { return vocab_size_; }
  std::optional<std::int64_t> piece_id(const std::string& piece) const override;
  std::optional<std::int64_t> bos_id() const override { return bos_id_; }
  std::optional<std::int64_t> eos_id() const override { return eos_id_; }
  std::optional<std::int64_t> pad_id() const override { return pad_id_; }
  // The token an id stands for (added tokens included), or nullopt for an id outside the vocabulary or one that no
  // token has.
  std::optional<std::string> token(std::int64_t id) const;
  // Whether the id is a special added token (decode skips it).
  bool is_special(std::int64_t id) const;
  // tokenizer.json's added_tokens (for GPT-2's files: its special tokens), in file order.
  const std::vector<hf::AddedToken>& added_tokens() const { return added_->tokens(); }
  // tokenizer_config.json's add_bos_token (default: whether the post-processor starts with the bos token).
  bool add_bos_token() const { return add_bos_token_; }

 private:
  HfTokenizer() = default;
  struct Files;
  void finish(const Files& files);
  std::string token_of(std::int64_t id) const;

  std::unique_ptr<hf::Normalizer> normalizer_;
  std::unique_ptr<hf::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<hf::BpeModel> model_;
  std::unique_ptr<hf::PostProcessor> post_processor_;
  std::unique_ptr<hf::Decoder> decoder_;
  std::unique_ptr<hf::AddedVocabulary> added_;
  // Each id's token. A map, as Hugging Face's tokenizers keeps it: a file may give any id below 2^31, and a table
  // over that range would take gigabytes for a few tokens.
  std::unordered_map<std::uint32_t, std::string> tokens_by_id_;
  std::int64_t vocab_size_ = 0;  // the largest id + 1
  std::optional<std::int64_t> bos_id_;
  std::optional<std::int64_t> eos_id_;
  std::optional<std::int64_t> pad_id_;
  bool add_bos_token_ = false;
};

}  // namespace ladle::text
