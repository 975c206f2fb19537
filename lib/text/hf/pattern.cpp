#include "lib/text/hf/pattern.h"

#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text::hf {

Pattern::Pattern(const JsonField& field) {
  if (!field.is_object()) field.fail("expected {\"String\": ...} or {\"Regex\": ...}");
  if (const auto literal = field.optional("String")) {
    literal_ = literal->string();
    if (literal_.empty()) literal->fail("the pattern is empty");
    require_valid_utf8(literal_, literal->where());
    return;
  }
  const auto regex = field.optional("Regex");
  if (!regex) field.fail("expected {\"String\": ...} or {\"Regex\": ...}");
  *this = Pattern::regex(regex->string(), regex->where());
}

Pattern Pattern::regex(const std::string& source, const std::string& where) {
  Pattern pattern;
  pattern.regex_ = std::make_unique<OnigurumaRegex>(source, where);
  return pattern;
}

Pattern Pattern::literal(std::string text) {
  Pattern pattern;
  pattern.literal_ = std::move(text);
  return pattern;
}

Pattern::~Pattern() = default;
Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;

std::vector<ByteRange> Pattern::find_all(std::string_view text) const {
  std::vector<ByteRange> matches;
  if (!regex_) {
    for (std::size_t at = text.find(literal_); at != std::string_view::npos; at = text.find(literal_, at)) {
      matches.emplace_back(at, at + literal_.size());
      at += literal_.size();
    }
    return matches;
  }
  std::size_t resume = 0;
  bool have_previous = false;
  std::size_t previous_end = 0;
  while (resume <= text.size()) {
    const auto found = regex_->search(text, resume);
    if (!found) break;
    const auto [start, stop] = *found;
    if (start == stop && have_previous && previous_end == stop) {
      resume += resume < text.size() ? utf8_length(static_cast<unsigned char>(text[resume])) : 1;
      continue;
    }
    matches.emplace_back(start, stop);
    resume = stop;
    have_previous = true;
    previous_end = stop;
  }
  return matches;
}

std::string Pattern::replace_all(std::string_view text, std::string_view content) const {
  std::string out;
  out.reserve(text.size());
  std::size_t copied = 0;
  for (const auto& [start, stop] : find_all(text)) {
    out.append(text.substr(copied, start - copied));
    out.append(content);
    copied = stop;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace ladle::text::hf
