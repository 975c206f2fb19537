// AddedVocabulary: the tokens of tokenizer.json's "added_tokens" (chat markers, <|begin_of_text|>, <unused0>...),
// found in the text before the model sees it, as tokenizers/src/tokenizer/added_vocabulary.rs does:
//   1. tokens with normalized false are found in the raw text;
//   2. the text between them is normalized, and tokens with normalized true (their normalized content) are
//      found in it;
//   3. what remains goes to the pre-tokenizer and the model.
// Matching is leftmost-longest (Aho-Corasick MatchKind::LeftmostLongest). A token with single_word matches only
// between non-word characters; lstrip / rstrip take the white space before / after it into the token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/text/hf/json_field.h"
#include "lib/text/hf/normalizer.h"

namespace ladle::text::hf {

struct AddedToken {
  std::string content;       // the text of the token
  std::uint32_t id = 0;      // its id
  bool special = false;      // skipped when decoding (bos, eos, chat markers)
  bool lstrip = false;       // absorbs the white space before it
  bool rstrip = false;       // absorbs the white space after it
  bool normalized = false;   // matched in normalized text (else in the raw text)
  bool single_word = false;  // matched only as a whole word
};

// One part of a split text: an added token's id, or text for the next stage.
struct TextSegment {
  std::size_t begin = 0;             // byte offsets in the text that was split
  std::size_t end = 0;
  std::optional<std::uint32_t> id;  // the added token, or nullopt for plain text
};

class AddedVocabulary {
 public:
  // `normalizer` (may be null) normalizes the content of the tokens with normalized true.
  AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // The raw text cut at the tokens with normalized false.
  std::vector<TextSegment> split_raw(std::string_view text) const { return split(text, raw_); }
  // Normalized text cut at the tokens with normalized true.
  std::vector<TextSegment> split_normalized(std::string_view text) const { return split(text, normalized_); }

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  // The token with this id, or null.
  const AddedToken* find(std::uint32_t id) const;
  // The token with this content, or null.
  const AddedToken* find(std::string_view content) const;

 private:
  // A byte trie of token contents, for leftmost-longest search.
  struct Trie {
    std::vector<std::int32_t> token_at;                    // node -> index in tokens_, -1 when no token ends there
    std::unordered_map<std::uint64_t, std::int32_t> edges;  // (node << 8 | byte) -> child node
    bool first_byte[256] = {};                             // bytes some content begins with
    void add(std::string_view content, std::int32_t token);
  };
  std::vector<TextSegment> split(std::string_view text, const Trie& trie) const;

  std::vector<AddedToken> tokens_;
  Trie raw_;
  Trie normalized_;
  std::unordered_map<std::uint32_t, std::size_t> by_id_;
  std::unordered_map<std::string, std::size_t> by_content_;
};

// The "added_tokens" array of tokenizer.json.
std::vector<AddedToken> parse_added_tokens(const JsonField& list);

}  // namespace ladle::text::hf
