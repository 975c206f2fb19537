#include "lib/text/batch.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "lib/model/causal_lm_loss.h"
#include "lib/util/error.h"

namespace ladle::text {

static_assert(kIgnoreLabel == model::kIgnoreIndex, "labels must use the loss's ignore index");

Batch collate(const std::vector<TokenizedExample>& examples, std::int64_t pad_id, PaddingSide side) {
  if (examples.empty()) throw Error("collate: no examples");
  std::size_t length = 0;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const auto& example = examples[i];
    if (example.input_ids.empty()) throw Error("collate: example " + std::to_string(i) + " has no tokens");
    if (example.labels.size() != example.input_ids.size()) {
      throw Error("collate: example " + std::to_string(i) + " has " + std::to_string(example.input_ids.size()) +
                  " input ids but " + std::to_string(example.labels.size()) + " labels");
    }
    length = std::max(length, example.input_ids.size());
  }
  const auto rows = static_cast<std::int64_t>(examples.size());
  const auto columns = static_cast<std::int64_t>(length);
  Batch batch;
  batch.input_ids = at::full({rows, columns}, pad_id, at::kLong);
  batch.attention_mask = at::zeros({rows, columns}, at::kLong);
  batch.labels = at::full({rows, columns}, kIgnoreLabel, at::kLong);
  auto* ids = batch.input_ids.data_ptr<std::int64_t>();
  auto* mask = batch.attention_mask.data_ptr<std::int64_t>();
  auto* labels = batch.labels.data_ptr<std::int64_t>();
  for (std::size_t row = 0; row < examples.size(); ++row) {
    const auto& example = examples[row];
    const auto start = row * length + (side == PaddingSide::left ? length - example.input_ids.size() : 0);
    std::copy(example.input_ids.begin(), example.input_ids.end(), ids + start);
    std::copy(example.labels.begin(), example.labels.end(), labels + start);
    std::fill_n(mask + start, example.input_ids.size(), std::int64_t{1});
    batch.tasks.push_back(example.task);
    batch.source_indices.push_back(example.source_index);
  }
  return batch;
}

}  // namespace ladle::text
