#include "lib/text/utf8.h"

#include <cstdio>

#include "lib/util/error.h"

namespace ladle::text {
namespace {

constexpr char32_t kReplacementCharacter = 0xFFFD;

// The length of the well-formed character at `offset`, or 0 when it is ill-formed; `*valid_prefix` receives the
// length of the longest prefix that could still begin a well-formed character (the "maximal subpart").
std::size_t well_formed_length(std::string_view text, std::size_t offset, std::size_t* valid_prefix) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[offset + i]); };
  const unsigned char lead = byte(0);
  *valid_prefix = 1;
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte (table 3-7)
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if (offset + i >= text.size()) return 0;
    const unsigned char next = byte(i);
    const bool in_range = i == 1 ? next >= low && next <= high : next >= 0x80 && next <= 0xBF;
    if (!in_range) return 0;
    *valid_prefix = i + 1;
  }
  return length;
}

// Calls visit(code point) for each character of any text, ill-formed sequences as U+FFFD (decode_code_point).
template <typename Visit>
void for_each_code_point(std::string_view text, Visit visit) {
  std::size_t offset = 0;
  while (offset < text.size()) {
    std::size_t length = 0;
    visit(decode_code_point(text, offset, &length));
    offset += length;
  }
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view text) {
  std::size_t offset = 0;
  while (offset < text.size()) {
    if (static_cast<unsigned char>(text[offset]) < 0x80) {
      ++offset;
      continue;
    }
    std::size_t prefix = 0;
    const std::size_t length = well_formed_length(text, offset, &prefix);
    if (length == 0) return offset;
    offset += length;
  }
  return std::string_view::npos;
}

void require_valid_utf8(std::string_view text, const std::string& what) {
  const std::size_t offset = find_invalid_utf8(text);
  if (offset == std::string_view::npos) return;
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[offset]));
  throw Error(what + " is not valid UTF-8: byte " + byte + " at offset " + std::to_string(offset) +
              " does not begin a well-formed character");
}

char32_t code_point_at(std::string_view text, std::size_t offset) {
  const auto byte = [&](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(text[offset + i])); };
  const char32_t lead = byte(0);
  if (lead < 0x80) return lead;
  if (lead < 0xE0) return ((lead & 0x1F) << 6) | (byte(1) & 0x3F);
  if (lead < 0xF0) return ((lead & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
  return ((lead & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) | (byte(3) & 0x3F);
}

std::size_t previous_character(std::string_view text, std::size_t end) {
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for_each_code_point(bytes, [&](char32_t c) { append_utf8(out, c); });
  return out;
}

char32_t decode_code_point(std::string_view text, std::size_t offset, std::size_t* length) {
  std::size_t prefix = 0;
  const std::size_t well_formed = well_formed_length(text, offset, &prefix);
  if (well_formed == 0) {
    *length = prefix;
    return kReplacementCharacter;
  }
  *length = well_formed;
  return code_point_at(text, offset);
}

std::u32string utf8_to_code_points(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for_each_code_point(text, [&](char32_t c) { out.push_back(c); });
  return out;
}

std::string code_points_to_utf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (const char32_t c : code_points) append_utf8(out, c);
  return out;
}

std::size_t code_point_count(std::string_view text) {
  std::size_t count = 0;
  for_each_code_point(text, [&](char32_t) { ++count; });
  return count;
}

}  // namespace ladle::text
