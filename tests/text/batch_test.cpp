// collate: padding side, attention mask and ignored labels at padding.
#include "lib/text/batch.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "lib/util/error.h"

namespace ladle::text {
namespace {

constexpr std::int64_t X = kIgnoreLabel;

std::vector<TokenizedExample> two_examples() { return {{{5, 6, 7}, {X, 6, 7}, "a", 10}, {{8}, {8}, "b", 11}}; }

at::Tensor rows(std::vector<std::int64_t> values) { return at::tensor(values, at::kLong).reshape({2, 3}); }

TEST(Collate, RightPaddingPutsPadAfterTheTokens) {
  const auto batch = collate(two_examples(), /*pad_id=*/3, PaddingSide::right);
  EXPECT_TRUE(at::equal(batch.input_ids, rows({5, 6, 7, 8, 3, 3})));
  EXPECT_TRUE(at::equal(batch.attention_mask, rows({1, 1, 1, 1, 0, 0})));
  EXPECT_TRUE(at::equal(batch.labels, rows({X, 6, 7, 8, X, X})));
  EXPECT_EQ(batch.tasks, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(batch.source_indices, (std::vector<std::size_t>{10, 11}));
}

TEST(Collate, LeftPaddingPutsPadBeforeTheTokens) {
  const auto batch = collate(two_examples(), /*pad_id=*/3, PaddingSide::left);
  EXPECT_TRUE(at::equal(batch.input_ids, rows({5, 6, 7, 3, 3, 8})));
  EXPECT_TRUE(at::equal(batch.attention_mask, rows({1, 1, 1, 0, 0, 1})));
  EXPECT_TRUE(at::equal(batch.labels, rows({X, 6, 7, X, X, 8})));
}

TEST(Collate, TensorsAreInt64WithOneRowPerExample) {
  const auto batch = collate(two_examples(), 0);
  for (const auto& tensor : {batch.input_ids, batch.attention_mask, batch.labels}) {
    EXPECT_EQ(tensor.scalar_type(), at::kLong);
    EXPECT_EQ(tensor.sizes(), (at::IntArrayRef{2, 3}));
  }
}

TEST(Collate, RejectsNoExamplesEmptyExamplesAndMismatchedLabels) {
  EXPECT_THROW(collate({}, 0), Error);
  EXPECT_THROW(collate({{{}, {}, "a", 0}}, 0), Error);
  EXPECT_THROW(collate({{{1, 2}, {1}, "a", 0}}, 0), Error);
}

}  // namespace
}  // namespace ladle::text
