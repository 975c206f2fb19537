// Decoders: token strings back to text (tokenizer.json "decoder"; tokenizers/src/decoders/). Implemented:
// ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace and Sequence; any other type is an error naming it.
// Each decoder maps the list of token strings to a new list (Rust's decode_chain); the text is their
// concatenation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lib/text/hf/json_field.h"

namespace ladle::text::hf {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
};

// The decoder a tokenizer.json "decoder" object describes. Throws ladle::Error naming the field for an
// unsupported type or a malformed field.
std::unique_ptr<Decoder> parse_decoder(const JsonField& field);

// GPT-2's decoder: ByteLevel.
std::unique_ptr<Decoder> byte_level_decoder();

}  // namespace ladle::text::hf
