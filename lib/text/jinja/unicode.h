// UTF-8 <-> code points, and Python's notion of whitespace, for the template engine's string semantics: Python
// indexes, slices, measures and strips strings by code point, not by byte.
#pragma once

#include <string>
#include <string_view>

namespace ladle::text::jinja {

// The code points of UTF-8 text. A byte that does not start a valid sequence becomes U+FFFD, so hostile input
// never fails here (the templates' own strings and JSON-read messages are valid UTF-8).
std::u32string utf8_to_code_points(std::string_view text);
// The code point at byte pos of UTF-8 text (pos < text.size()) and, in *length, how many bytes it takes.
char32_t decode_code_point(std::string_view text, std::size_t pos, std::size_t* length);
std::string code_points_to_utf8(std::u32string_view code_points);
// How many code points UTF-8 text holds (len() of the Python str).
std::size_t code_point_count(std::string_view text);

// Python's str.isspace() for one code point (the Unicode White_Space characters plus the ASCII separators
// U+001C..U+001F), what str.strip(), str.split() and the trim filter remove.
bool is_python_space(char32_t c);
// Python's str.isupper()/islower() test and upper()/lower() mapping, for ASCII and Latin-1 letters (others unchanged).
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);

}  // namespace ladle::text::jinja
