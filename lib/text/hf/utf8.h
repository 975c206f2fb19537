// UTF-8 as the tokenizers need it: validation with an error a user can act on, stepping over characters, and
// the lossy decoding Rust's String::from_utf8_lossy does (Hugging Face's decoders use it).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ladle::text::hf {

// The offset of the first byte that does not begin a well-formed UTF-8 character (Unicode 15, table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF), or std::string_view::npos when the text is valid.
std::size_t find_invalid_utf8(std::string_view text);

// Throws ladle::Error "WHAT is not valid UTF-8: byte 0xC3 at offset 12 does not begin a well-formed character".
void require_valid_utf8(std::string_view text, const std::string& what);

// The byte length of the character whose first byte is `lead` (valid UTF-8 assumed).
constexpr std::size_t utf8_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

// The code point at `offset` (valid UTF-8 assumed).
char32_t code_point_at(std::string_view text, std::size_t offset);
// The offset where the character ending at `end` begins (valid UTF-8 assumed, end > 0).
std::size_t previous_character(std::string_view text, std::size_t end);

void append_utf8(std::string& out, char32_t code_point);

// The bytes as text, each maximal ill-formed subsequence replaced by U+FFFD (Unicode 15 §3.9, "substitution of
// maximal subparts", which is what Rust's String::from_utf8_lossy does).
std::string utf8_lossy(std::string_view bytes);

}  // namespace ladle::text::hf
