// ByteTokenizer: one token per UTF-8 byte, plus whole-piece symbols such as chat markers. No training and no
// model file, so examples and tests can run the data pipeline with ids a reader can work out by hand.
//
// Ids: unk 0, bos 1, eos 2, pad 3 (the layout of ladle's sentencepiece tokenizers), byte b at 4 + b, and the
// symbols after the bytes, from 260 in the order given. unk is never produced (every byte has an id).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/text/tokenizer.h"

namespace ladle::text {

class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr std::int64_t kUnkId = 0;
  static constexpr std::int64_t kBosId = 1;
  static constexpr std::int64_t kEosId = 2;
  static constexpr std::int64_t kPadId = 3;
  static constexpr std::int64_t kFirstByteId = 4;
  static constexpr std::int64_t kFirstSymbolId = kFirstByteId + 256;

  // Throws ladle::Error for an empty or repeated symbol.
  explicit ByteTokenizer(std::vector<std::string> symbols = {});

  // Where a symbol starts in the text it becomes its id (the longest symbol wins); every other byte its byte id.
  std::vector<std::int64_t> encode(const std::string& text) const override;
  // Bytes and symbols back to text; bos, eos, pad and unk decode to nothing. Throws ladle::Error for an id
  // outside [0, vocab_size()).
  std::string decode(const std::vector<std::int64_t>& ids) const override;

  std::int64_t vocab_size() const override;
  std::optional<std::int64_t> piece_id(const std::string& piece) const override;
  std::optional<std::int64_t> bos_id() const override { return kBosId; }
  std::optional<std::int64_t> eos_id() const override { return kEosId; }
  std::optional<std::int64_t> pad_id() const override { return kPadId; }

 private:
  std::vector<std::string> symbols_;
};

}  // namespace ladle::text
