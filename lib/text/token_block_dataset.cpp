#include "lib/text/token_block_dataset.h"

#include "lib/util/error.h"

namespace ladle::text {

TokenBlockDataset::TokenBlockDataset(std::shared_ptr<const std::vector<std::int32_t>> tokens, std::size_t block_size,
                                     std::string task)
    : tokens_(std::move(tokens)), block_size_(block_size), task_(std::move(task)) {
  if (!tokens_) throw Error("token blocks: no tokens");
  if (block_size_ == 0) throw Error("token blocks: block_size must be at least 1");
}

std::size_t TokenBlockDataset::size() const { return tokens_->empty() ? 0 : (tokens_->size() - 1) / block_size_; }

TokenizedExample TokenBlockDataset::example(std::size_t index) const {
  if (index >= size()) {
    throw Error("token blocks: block " + std::to_string(index) + " is out of range (size " + std::to_string(size()) +
                ")");
  }
  const auto begin = tokens_->begin() + static_cast<std::ptrdiff_t>(index * block_size_);
  TokenizedExample example;
  example.input_ids.assign(begin, begin + static_cast<std::ptrdiff_t>(block_size_ + 1));
  example.labels = example.input_ids;
  example.task = task_;
  example.source_index = index;
  return example;
}

std::string TokenBlockDataset::task(std::size_t index) const {
  if (index >= size()) throw Error("token blocks: block " + std::to_string(index) + " is out of range");
  return task_;
}

}  // namespace ladle::text
