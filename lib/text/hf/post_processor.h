// Post-processors: the special tokens around an encoded text when a caller asks for them (tokenizer.json
// "post_processor"; tokenizers/src/processors/). Implemented for single sequences: TemplateProcessing,
// RobertaProcessing and BertProcessing (cls, text, sep), ByteLevel (which changes only offsets) and Sequence;
// any other type is an error naming it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "lib/text/hf/json_field.h"

namespace ladle::text::hf {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // The ids of one encoded text with the special tokens added.
  virtual std::vector<std::int64_t> process(std::vector<std::int64_t> ids) const = 0;
};

std::unique_ptr<PostProcessor> parse_post_processor(const JsonField& field);

}  // namespace ladle::text::hf
