// Pre-tokenizers: split normalized text into the words the model encodes one by one (tokenizer.json
// "pre_tokenizer"; tokenizers/src/pre_tokenizers/). Implemented: Split (String or Regex patterns, every
// behaviour, invert), ByteLevel, Metaspace and Sequence; any other type is an error naming it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lib/text/hf/json_field.h"

namespace ladle::text::hf {

// A piece of the text on its way to the model.
struct Piece {
  std::string text;            // UTF-8 (after ByteLevel: in the byte-level alphabet)
  bool starts_input = false;   // begins where the input text begins (Metaspace's prepend_scheme "first")
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits (and possibly rewrites) every piece; empty pieces are dropped.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

// The pre-tokenizer a tokenizer.json "pre_tokenizer" object describes. Throws ladle::Error naming the field for
// an unsupported type or a malformed field.
std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const JsonField& field);

// GPT-2's pre-tokenizer: ByteLevel with add_prefix_space false and GPT-2's regex (what Hugging Face's
// GPT2TokenizerFast builds for a vocab.json + merges.txt folder).
std::unique_ptr<PreTokenizer> gpt2_pre_tokenizer();

}  // namespace ladle::text::hf
