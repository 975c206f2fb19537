// ASCII whitespace helpers shared by the text readers and the chat template.
#pragma once

#include <string>
#include <string_view>

namespace ladle::text {

inline constexpr std::string_view kAsciiWhitespace = " \t\n\r\f\v";

// Python's str.strip() for ASCII whitespace, as open-instruct applies to instruction fields and chat contents.
inline std::string strip_whitespace(std::string_view text) {
  const auto first = text.find_first_not_of(kAsciiWhitespace);
  if (first == std::string_view::npos) return {};
  return std::string(text.substr(first, text.find_last_not_of(kAsciiWhitespace) - first + 1));
}

// True when text is empty or only ASCII whitespace.
inline bool is_blank(std::string_view text) {
  return text.find_first_not_of(kAsciiWhitespace) == std::string_view::npos;
}

}  // namespace ladle::text
