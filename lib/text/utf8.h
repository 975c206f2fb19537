// UTF-8, the one codec of the tree: validation with an error a user can act on, stepping over characters, the
// lossy decoding Rust's String::from_utf8_lossy does (Hugging Face's decoders use it), and code-point strings for
// the template engine, which indexes, slices and measures strings by code point as Python does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ladle::text {

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

// The code point at byte `offset` of any text (offset < text.size()) and, in *length, how many bytes it takes; an
// ill-formed sequence decodes as U+FFFD over its maximal subpart, as utf8_lossy replaces it, so hostile input never
// fails here.
char32_t decode_code_point(std::string_view text, std::size_t offset, std::size_t* length);
// The code points of any text, ill-formed sequences as U+FFFD (see decode_code_point).
std::u32string utf8_to_code_points(std::string_view text);
std::string code_points_to_utf8(std::u32string_view code_points);
// How many code points the text holds (len() of the Python str).
std::size_t code_point_count(std::string_view text);

}  // namespace ladle::text
