#include "lib/text/hf/added_vocabulary.h"

#include <algorithm>

#include "lib/text/hf/unicode_classes.h"
#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text::hf {
namespace {

bool ends_with_word(std::string_view text) {
  return !text.empty() && is_word_character(code_point_at(text, previous_character(text, text.size())));
}

bool starts_with_word(std::string_view text) { return !text.empty() && is_word_character(code_point_at(text, 0)); }

// Where the white space at the end of `text` begins (text.size() when there is none).
std::size_t white_space_start_at_end(std::string_view text) {
  std::size_t start = text.size();
  while (start > 0) {
    const std::size_t before = previous_character(text, start);
    if (!is_white_space(code_point_at(text, before))) break;
    start = before;
  }
  return start;
}

// The byte length of the white space at the start of `text`.
std::size_t white_space_length_at_start(std::string_view text) {
  std::size_t length = 0;
  while (length < text.size() && is_white_space(code_point_at(text, length))) {
    length += utf8_length(static_cast<unsigned char>(text[length]));
  }
  return length;
}

}  // namespace

void AddedVocabulary::Trie::add(std::string_view content, std::int32_t token) {
  if (token_at.empty()) token_at.push_back(-1);
  std::int32_t node = 0;
  for (const char c : content) {
    const auto byte = static_cast<unsigned char>(c);
    const std::uint64_t key = static_cast<std::uint64_t>(node) << 8 | byte;
    const auto [edge, inserted] = edges.emplace(key, static_cast<std::int32_t>(token_at.size()));
    if (inserted) token_at.push_back(-1);
    node = edge->second;
  }
  first_byte[static_cast<unsigned char>(content[0])] = true;
  // Two tokens with the same content: the first keeps it (the Aho-Corasick automaton reports the first pattern).
  if (token_at[node] < 0) token_at[node] = token;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer)
    : tokens_(std::move(tokens)) {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& token = tokens_[i];
    by_id_.emplace(token.id, i);
    by_content_.emplace(token.content, i);
    if (token.normalized) {
      const std::string content = normalizer ? normalizer->normalize(token.content) : token.content;
      if (!content.empty()) normalized_.add(content, static_cast<std::int32_t>(i));
    } else {
      raw_.add(token.content, static_cast<std::int32_t>(i));
    }
  }
}

const AddedToken* AddedVocabulary::find(std::uint32_t id) const {
  const auto found = by_id_.find(id);
  return found == by_id_.end() ? nullptr : &tokens_[found->second];
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  const auto found = by_content_.find(std::string(content));
  return found == by_content_.end() ? nullptr : &tokens_[found->second];
}

std::vector<TextSegment> AddedVocabulary::split(std::string_view text, const Trie& trie) const {
  std::vector<TextSegment> segments;
  if (trie.token_at.empty()) {
    if (!text.empty()) segments.push_back({0, text.size(), std::nullopt});
    return segments;
  }
  std::size_t copied = 0;  // text before this offset is in segments
  std::size_t search = 0;  // the next match may begin here
  while (search < text.size()) {
    // The leftmost position where a token begins, and the longest token there.
    std::int32_t token = -1;
    std::size_t begin = search;
    std::size_t end = 0;
    for (; begin < text.size() && token < 0; ++begin) {
      if (!trie.first_byte[static_cast<unsigned char>(text[begin])]) continue;
      std::int32_t node = 0;
      for (std::size_t i = begin; i < text.size(); ++i) {
        const auto edge = trie.edges.find(static_cast<std::uint64_t>(node) << 8 | static_cast<unsigned char>(text[i]));
        if (edge == trie.edges.end()) break;
        node = edge->second;
        if (trie.token_at[node] >= 0) {
          token = trie.token_at[node];
          end = i + 1;
        }
      }
      if (token >= 0) break;
    }
    if (token < 0) break;
    search = end;
    const AddedToken& added = tokens_[token];
    if (added.single_word && (ends_with_word(text.substr(0, begin)) || starts_with_word(text.substr(end)))) continue;
    if (added.lstrip) begin = std::max(white_space_start_at_end(text.substr(0, begin)), copied);
    if (added.rstrip) end += white_space_length_at_start(text.substr(end));
    if (begin > copied) segments.push_back({copied, begin, std::nullopt});
    segments.push_back({begin, end, added.id});
    copied = end;
    search = end;
  }
  if (copied < text.size()) segments.push_back({copied, text.size(), std::nullopt});
  return segments;
}

std::vector<AddedToken> parse_added_tokens(const JsonField& list) {
  std::vector<AddedToken> tokens;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const JsonField entry = list.at(i);
    AddedToken token;
    token.id = entry["id"].token_id();
    token.content = entry["content"].string();
    if (token.content.empty()) entry["content"].fail("an added token cannot be empty");
    token.special = entry.boolean_or("special", false);
    token.lstrip = entry.boolean_or("lstrip", false);
    token.rstrip = entry.boolean_or("rstrip", false);
    token.normalized = entry.boolean_or("normalized", !token.special);
    token.single_word = entry.boolean_or("single_word", false);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

}  // namespace ladle::text::hf
