// TokenizedExample: one training or evaluation sequence as token ids with its loss targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ladle::text {

// The label of a position that is not a loss target: torch.nn.CrossEntropyLoss's default ignore_index, the same
// value as model::kIgnoreIndex.
constexpr std::int64_t kIgnoreLabel = -100;

struct TokenizedExample {
  std::vector<std::int64_t> input_ids;  // [T] token ids
  std::vector<std::int64_t> labels;     // [T] input_ids where trained, kIgnoreLabel elsewhere (causal LM loss shifts)
  std::string task;                     // the task it belongs to (for per-task loss and filtering)
  std::size_t source_index = 0;         // where it came from: the record's index in its file, or the block index
};

}  // namespace ladle::text
