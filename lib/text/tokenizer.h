// Tokenizer: what the data pipeline needs from a tokenizer (text <-> ids, special ids, chat markers), so chat
// templates, corpora and batching do not depend on sentencepiece. SentencePieceTokenizer implements it; tests
// use small fakes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ladle::text {

// Implementations must allow concurrent calls of the const methods (the corpus is encoded on several threads).
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of UTF-8 text, without bos/eos (callers add them where their format wants them).
  virtual std::vector<std::int64_t> encode(const std::string& text) const = 0;
  // Text of token ids; throws ladle::Error for an id outside [0, vocab_size()).
  virtual std::string decode(const std::vector<std::int64_t>& ids) const = 0;

  virtual std::int64_t vocab_size() const = 0;
  // The id of a piece that is one token (e.g. a chat marker "<|user|>"), or nullopt when the vocabulary lacks it.
  virtual std::optional<std::int64_t> piece_id(const std::string& piece) const = 0;

  // Special token ids, or nullopt when the tokenizer defines none.
  virtual std::optional<std::int64_t> bos_id() const = 0;
  virtual std::optional<std::int64_t> eos_id() const = 0;
  virtual std::optional<std::int64_t> pad_id() const = 0;
};

}  // namespace ladle::text
