// The byte-level alphabet of GPT-2 (openai/gpt-2 encoder.py bytes_to_unicode, tokenizers/src/pre_tokenizers/
// byte_level.rs): every byte is shown as a printable character, so a vocabulary of strings covers all bytes.
// The printable bytes ! to ~, ¡ to ¬ and ® to ÿ stand for themselves; the other 68 bytes, in order, for U+0100
// onwards (space, 0x20, is U+0120 "Ġ"; newline, 0x0A, is U+010A "Ċ").
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ladle::text::hf {

class ByteLevelAlphabet {
 public:
  static const ByteLevelAlphabet& instance();

  // The character of a byte, as UTF-8.
  const std::string& character(unsigned char byte) const { return characters_[byte]; }
  // The byte a character stands for, or -1 for a character outside the alphabet.
  int byte_of(char32_t code_point) const { return code_point < bytes_.size() ? bytes_[code_point] : -1; }

  // Every byte of `text` as its character.
  std::string encode(std::string_view text) const;
  // The bytes the characters of a token stand for, or false (out untouched) when one is outside the alphabet.
  bool decode(std::string_view token, std::string& out) const;

 private:
  ByteLevelAlphabet();
  std::array<std::string, 256> characters_;
  std::array<std::int16_t, 0x144> bytes_;  // the alphabet's code points are below U+0144
};

}  // namespace ladle::text::hf
