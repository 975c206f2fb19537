// TokenBlockDataset: fixed-length blocks of a token stream for next-token pretraining. Documents are packed
// (the stream is documents each ended by eos, corpus_tokens.h), so a block may span several of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/text/example_dataset.h"

namespace ladle::text {

// Block i is tokens [i * block_size, i * block_size + block_size + 1): block_size + 1 tokens, because with the
// causal-LM shift (model::causal_lm_loss) the first position is never a target, so each block trains
// block_size predictions. Consecutive blocks share their boundary token, so every token but the stream's first
// is a target exactly once; the tail that fills no whole block is left out. Labels equal input ids (all trained).
class TokenBlockDataset final : public ExampleDataset {
 public:
  // Throws ladle::Error when tokens is null or block_size is 0.
  TokenBlockDataset(std::shared_ptr<const std::vector<std::int32_t>> tokens, std::size_t block_size,
                    std::string task = "corpus");
  // (tokens - 1) / block_size, rounded down.
  std::size_t size() const override;
  TokenizedExample example(std::size_t index) const override;
  std::string task(std::size_t index) const override;
  std::size_t block_size() const { return block_size_; }

 private:
  std::shared_ptr<const std::vector<std::int32_t>> tokens_;
  std::size_t block_size_;
  std::string task_;
};

}  // namespace ladle::text
