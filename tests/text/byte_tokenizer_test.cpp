// ByteTokenizer: the hand-checkable tokenizer the data-pipeline tests rely on.
#include "lib/text/byte_tokenizer.h"

#include <gtest/gtest.h>

#include "lib/util/error.h"

namespace ladle::text {
namespace {

using Ids = std::vector<std::int64_t>;

TEST(ByteTokenizer, EncodesEachByteAsFourPlusItsValue) {
  ByteTokenizer tokenizer;
  // 'A' = 65, '\n' = 10, 0xC3 0xA9 = "é" in UTF-8.
  EXPECT_EQ(tokenizer.encode("A\n\xC3\xA9"), (Ids{69, 14, 4 + 0xC3, 4 + 0xA9}));
  EXPECT_EQ(tokenizer.vocab_size(), 260);
}

TEST(ByteTokenizer, SymbolsAreSinglePiecesAfterTheBytes) {
  ByteTokenizer tokenizer({"<|user|>", "<|u"});
  // The longer symbol wins where both match; "<|u" alone matches at the end.
  EXPECT_EQ(tokenizer.encode("<|user|>x<|u"), (Ids{260, 4 + 'x', 261}));
  EXPECT_EQ(tokenizer.piece_id("<|user|>"), 260);
  EXPECT_EQ(tokenizer.piece_id("<|assistant|>"), std::nullopt);
  EXPECT_EQ(tokenizer.vocab_size(), 262);
}

TEST(ByteTokenizer, DecodeInvertsEncodeAndSkipsSpecialTokens) {
  ByteTokenizer tokenizer({"<|assistant|>"});
  const std::string text = "<|assistant|>\nfine, thanks";
  auto ids = tokenizer.encode(text);
  ids.insert(ids.begin(), ByteTokenizer::kBosId);
  ids.push_back(ByteTokenizer::kEosId);
  EXPECT_EQ(tokenizer.decode(ids), text);
}

TEST(ByteTokenizer, DecodeRejectsIdsOutsideTheVocabulary) {
  ByteTokenizer tokenizer;
  EXPECT_THROW(tokenizer.decode({260}), Error);
  EXPECT_THROW(tokenizer.decode({-1}), Error);
}

TEST(ByteTokenizer, RepeatedSymbolIsAnError) {
  EXPECT_THROW(ByteTokenizer({"<|user|>", "<|user|>"}), Error);
  EXPECT_THROW(ByteTokenizer({""}), Error);
}

}  // namespace
}  // namespace ladle::text
