// A regular expression compiled with Oniguruma, in UTF-8: the engine of Hugging Face's Rust tokenizers
// (tokenizers/src/utils/onig.rs, Oniguruma's default syntax) and, in its Python syntax, the closest to Python's `re`
// there is in C (PEFT matches rank_pattern keys with `re`). Unlike std::regex, Oniguruma bounds what a hostile
// expression can cost: nesting deeper than its parse depth limit does not compile, and a match gives up after a
// bounded number of backtracking steps.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ladle::text {

// A match: [first, second) byte offsets.
using ByteRange = std::pair<std::size_t, std::size_t>;

enum class RegexSyntax {
  oniguruma,  // Oniguruma's default (Ruby) syntax, as Hugging Face's tokenizers compile
  python,     // Python's `re` syntax
};

class OnigurumaRegex {
 public:
  // Throws ladle::Error "WHERE is not a valid regular expression: ..." for an expression Oniguruma refuses, and
  // names WHERE for ill-formed UTF-8.
  OnigurumaRegex(const std::string& source, const std::string& where, RegexSyntax syntax = RegexSyntax::oniguruma);
  ~OnigurumaRegex();
  OnigurumaRegex(OnigurumaRegex&&) noexcept;
  OnigurumaRegex& operator=(OnigurumaRegex&&) noexcept;

  // The first match starting at or after byte `from` (look-behind sees the text before it), or none. Throws
  // ladle::Error naming the expression when Oniguruma gives up (its backtracking limit) instead of answering.
  // Safe to call from several threads.
  std::optional<ByteRange> search(std::string_view text, std::size_t from) const;

  // Whether the expression occurs anywhere in `text` (Python's re.search); throws as search does.
  bool found_in(std::string_view text) const;

  // Whether the expression matches at the start of `text` (Python's re.match; anchor the end with `$` for a
  // whole-text match). Throws ladle::Error naming the expression when the match takes more than
  // kMaxMatchBacktracking steps: Python's `re` has no bound, so such an expression would hang the Python tool too.
  bool matches_at_start(std::string_view text) const;

  static constexpr unsigned long kMaxMatchBacktracking = 1'000'000;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
  std::string where_;
};

}  // namespace ladle::text
