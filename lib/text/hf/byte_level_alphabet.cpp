#include "lib/text/hf/byte_level_alphabet.h"

#include "lib/text/utf8.h"

namespace ladle::text::hf {

const ByteLevelAlphabet& ByteLevelAlphabet::instance() {
  static const ByteLevelAlphabet alphabet;
  return alphabet;
}

ByteLevelAlphabet::ByteLevelAlphabet() {
  bytes_.fill(-1);
  char32_t next_substitute = 0x100;
  for (int byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE);
    const char32_t code_point = printable ? static_cast<char32_t>(byte) : next_substitute++;
    append_utf8(characters_[byte], code_point);
    bytes_[code_point] = static_cast<std::int16_t>(byte);
  }
}

std::string ByteLevelAlphabet::encode(std::string_view text) const {
  std::string out;
  out.reserve(text.size() * 2);
  for (const char c : text) out += characters_[static_cast<unsigned char>(c)];
  return out;
}

bool ByteLevelAlphabet::decode(std::string_view token, std::string& out) const {
  const std::size_t kept = out.size();
  for (std::size_t i = 0; i < token.size(); i += utf8_length(static_cast<unsigned char>(token[i]))) {
    const int byte = byte_of(code_point_at(token, i));
    if (byte < 0) {
      out.resize(kept);
      return false;
    }
    out += static_cast<char>(byte);
  }
  return true;
}

}  // namespace ladle::text::hf
