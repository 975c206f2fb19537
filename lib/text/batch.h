// Batch: tokenized examples of different lengths padded into [batch, seq] tensors.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/text/tokenized_example.h"

namespace ladle::text {

// Where padding goes: after the tokens for training (positions start at 0 in every row), before them for
// generation (every row's last token is at the same, final position, where new tokens are appended).
enum class PaddingSide { right, left };

struct Batch {
  at::Tensor input_ids;                     // [B, T] int64; pad_id at padding
  at::Tensor attention_mask;                // [B, T] int64; 1 at tokens, 0 at padding
  at::Tensor labels;                        // [B, T] int64; the examples' labels, kIgnoreLabel (-100) at padding
  std::vector<std::string> tasks;           // [B] each row's task
  std::vector<std::size_t> source_indices;  // [B] each row's TokenizedExample::source_index
};

// Pads to the longest example (T = its length). Throws ladle::Error when examples is empty, or an example is
// empty or its labels and input ids differ in length.
Batch collate(const std::vector<TokenizedExample>& examples, std::int64_t pad_id,
              PaddingSide side = PaddingSide::right);

}  // namespace ladle::text
