// Normalizers: the first step of a Hugging Face tokenizer, text -> text before it is split into words
// (tokenizer.json "normalizer"; tokenizers/src/normalizers/). Implemented: NFC, NFD, NFKC, NFKD (with ICU),
// Replace, Prepend and Sequence; any other type is an error naming it.
#pragma once

#include <memory>
#include <string>

#include "lib/text/hf/json_field.h"

namespace ladle::text::hf {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // The normalized form of valid UTF-8 text.
  virtual std::string normalize(std::string text) const = 0;
};

// The normalizer a tokenizer.json "normalizer" object describes. Throws ladle::Error naming the field for an
// unsupported type or a malformed field.
std::unique_ptr<Normalizer> parse_normalizer(const JsonField& field);

}  // namespace ladle::text::hf
