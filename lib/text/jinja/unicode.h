// Python's notion of whitespace and letter case, for the template engine's string methods (the UTF-8 codec they
// stand on is lib/text/utf8.h).
#pragma once

#include <string>
#include <string_view>

namespace ladle::text::jinja {

// Python's str.isspace() for one code point (the Unicode White_Space characters plus the ASCII separators
// U+001C..U+001F), what str.strip(), str.split() and the trim filter remove.
bool is_python_space(char32_t c);
// Python's str.isupper()/islower() test and upper()/lower() mapping, for ASCII and Latin-1 letters (others unchanged).
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);

}  // namespace ladle::text::jinja
