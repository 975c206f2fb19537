// Pattern: what a Split pre-tokenizer, a Replace normalizer or a Replace decoder looks for: a literal string
// ({"String": " "}) or a regular expression ({"Regex": "\\p{N}{1,3}"}). Regular expressions are compiled with
// Oniguruma, the engine Hugging Face's Rust tokenizers use (tokenizers/src/utils/onig.rs), in its default
// syntax and UTF-8 (lib/text/oniguruma_regex.h), so \p{L}, (?i:...) and look-ahead mean exactly what they mean
// there.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/text/hf/json_field.h"
#include "lib/text/oniguruma_regex.h"

namespace ladle::text::hf {

using text::ByteRange;

class Pattern {
 public:
  // From {"String": ...} or {"Regex": ...}; throws naming the field when it is neither, the string is empty or
  // the expression does not compile.
  explicit Pattern(const JsonField& field);
  // A literal pattern.
  static Pattern literal(std::string text);
  // An Oniguruma expression; throws ladle::Error "WHERE: the regular expression does not compile: ..." .
  static Pattern regex(const std::string& source, const std::string& where);
  ~Pattern();
  Pattern(Pattern&&) noexcept;
  Pattern& operator=(Pattern&&) noexcept;

  // The successive non-overlapping matches, left to right, as Rust's onig find_iter gives them: a search resumes
  // where the last match ended (look-behind sees the text before), and an empty match right after the previous
  // match is skipped by one character. Throws ladle::Error when Oniguruma gives up on the text (Rust's onig crate
  // panics there). Safe to call from several threads.
  std::vector<ByteRange> find_all(std::string_view text) const;

  // The text with every match replaced by `content`.
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  Pattern() = default;
  std::string literal_;                    // the string to find, when not a regular expression
  std::unique_ptr<OnigurumaRegex> regex_;  // the regular expression, when one
};

}  // namespace ladle::text::hf
