// BpeModel: byte-pair encoding of one word (Sennrich et al. 2016, "Neural Machine Translation of Rare Words
// with Subword Units"), as Hugging Face's tokenizers/src/models/bpe/ does it: the word's characters become
// vocabulary ids, then the adjacent pair with the lowest merge rank is merged, the leftmost on a tie, until no
// pair has a merge. Options of tokenizer.json's "model": byte_fallback (a character missing from the vocabulary
// becomes its UTF-8 bytes "<0xE4>"...), unk_token and fuse_unk, ignore_merges (a word that is one vocabulary
// entry is that token). dropout must be null or 0 and continuing_subword_prefix / end_of_word_suffix empty
// (what the real files use); anything else is an error naming the key.
//
// encode_word is const and thread-safe: words shorter than 256 bytes are cached in a sharded, locked table.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lib/text/hf/json_field.h"
#include "lib/text/hf/vocabulary.h"

namespace ladle::text::hf {

struct BpeSettings {
  std::optional<std::string> unk_token;  // the token of characters the vocabulary lacks (none: they are dropped)
  bool fuse_unk = false;                 // consecutive unknown characters become one unk
  bool byte_fallback = false;            // unknown characters become their bytes' "<0xXX>" tokens when all exist
  bool ignore_merges = false;            // a word found whole in the vocabulary is not split
};

class BpeModel {
 public:
  // A merge rule: the two tokens whose concatenation is a new token.
  using Merge = std::pair<std::string, std::string>;

  // Throws ladle::Error "WHERE: ..." when a merge names a token missing from the vocabulary (or their
  // concatenation is missing), or unk_token is not in it. `where_merge(i)` names merge i in errors.
  BpeModel(Vocabulary vocabulary, const std::vector<Merge>& merges, BpeSettings settings,
           const std::function<std::string(std::size_t)>& where_merge, const std::string& where_model);

  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // tokenizer.json's "model" object (type BPE).
  static std::unique_ptr<BpeModel> from_json(const JsonField& model);
  // GPT-2's vocab.json (token -> id) and merges.txt ("#version" line, then "left right" per line).
  static std::unique_ptr<BpeModel> from_files(const std::filesystem::path& vocab_json,
                                              const std::filesystem::path& merges_txt);
  // The same from the two files' contents; `vocab_label` and `merges_label` name them in errors.
  static std::unique_ptr<BpeModel> from_texts(const std::string& vocab_json, const std::string& merges_txt,
                                              const std::string& vocab_label, const std::string& merges_label);

  // Appends the ids of one word (text the pre-tokenizer produced).
  void encode_word(std::string_view word, std::vector<std::int64_t>& out) const;

  const Vocabulary& vocabulary() const { return vocabulary_; }

 private:
  struct MergeTarget {
    std::uint32_t rank = 0;    // position in the merge list: lower merges first
    std::uint32_t new_id = 0;  // the merged token
  };
  std::optional<MergeTarget> find_merge(std::uint32_t left, std::uint32_t right) const;
  void add_merge(std::uint32_t left, std::uint32_t right, MergeTarget target);
  // The ids before any merge, as Rust's BPE::merge_word makes them.
  void initial_symbols(std::string_view word, std::vector<std::uint32_t>& ids, std::vector<std::uint32_t>& lengths) const;
  std::vector<std::uint32_t> merge_word(std::string_view word) const;

  Vocabulary vocabulary_;
  BpeSettings settings_;
  std::optional<std::uint32_t> unk_id_;
  std::array<std::int64_t, 256> byte_ids_{};  // the id of "<0xXX>" per byte, -1 when missing
  std::vector<std::uint64_t> merge_keys_;      // open addressing: (left << 32 | right) + 1, 0 = empty
  std::vector<MergeTarget> merge_targets_;
  std::size_t merge_count_ = 0;

  static constexpr std::size_t kCachedWordBytes = 256;
  static constexpr std::size_t kCacheShards = 64;
  static constexpr std::size_t kWordsPerShard = 8192;
  struct CacheShard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<std::uint32_t>> words;
  };
  mutable std::array<CacheShard, kCacheShards> cache_;
};

}  // namespace ladle::text::hf
