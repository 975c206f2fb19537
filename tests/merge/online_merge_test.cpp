// The per-step merge of online merging optimizers (lib/merge/online_merge.h): expected values from closed forms
// and a hand-worked TIES case, not from the merge engine the operators call.
#include "lib/merge/online_merge.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::floats;

OnlineMergeOptions options(OnlineMergeOperator op, double density, double update_weight, double reference_weight) {
  OnlineMergeOptions o;
  o.op = op;
  o.density = density;
  o.update_weight = update_weight;
  o.reference_weight = reference_weight;
  return o;
}

TEST(OnlineMerge, DensityOneAndNoReferenceReturnsTheUpdateBitForBit) {
  const at::Tensor update = at::randn({37, 5}, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor reference = at::randn({37, 5}, at::TensorOptions().dtype(at::kFloat));
  for (const auto op : {OnlineMergeOperator::ondare, OnlineMergeOperator::onties}) {
    EXPECT_TRUE(at::equal(merge_update(update, reference, options(op, 1.0, 1.0, 0.0), 3), update))
        << online_merge_operator_name(op);
  }
}

TEST(OnlineMerge, OnDareAtDensityOneIsTheWeightedSum) {
  const at::Tensor update = floats({0.5, -1, 2, 0});
  const at::Tensor reference = floats({4, 8, -2, 1});
  const at::Tensor merged = merge_update(update, reference, options(OnlineMergeOperator::ondare, 1.0, 2.0, 0.25), 0);
  EXPECT_TRUE(at::equal(merged, floats({2, 0, 3.5, 0.25}))) << merged;
}

// Δ = [0.5, -0.125, 0.75, -1, 0.0625, 0.25], τ = [1, 2, -3, -1, 0.5, -0.25], density 0.5, w_u = 1, w_r = 0.25.
// Trim (3 of 6 by magnitude, ties to the lower index): Δ̂ = [0.5, 0, 0.75, -1, 0, 0]; |τ| = 1 at indices 0 and 3
// ties for the third place, index 0 wins: τ̂ = [1, 2, -3, 0, 0, 0].
// Elect: w_u·Δ̂ + w_r·τ̂ = [0.75, 0.5, 0, -1, 0, 0]: signs [+, +, + (a zero sum counts as +), -, +, +].
// Disjoint sum: index 2 keeps the update's +0.75 and drops the reference's -0.75 (wrong sign), so
// M = [0.5 + 0.25, 0.5, 0.75, -1, 0, 0].
TEST(OnlineMerge, OnTiesTrimsElectsSignsAndSumsTheAgreeingEntries) {
  const at::Tensor update = floats({0.5, -0.125, 0.75, -1, 0.0625, 0.25});
  const at::Tensor reference = floats({1, 2, -3, -1, 0.5, -0.25});
  const at::Tensor merged = merge_update(update, reference, options(OnlineMergeOperator::onties, 0.5, 1.0, 0.25), 0);
  EXPECT_TRUE(at::equal(merged, floats({0.75, 0.5, 0.75, -1, 0, 0}))) << merged;
}

// Each DARE operand keeps an entry or not, kept ones divided by p: every merged entry is one of
// 0, w_u·Δ/p, w_r·τ/p or their sum; the masks are fixed by the seed and change with it.
TEST(OnlineMerge, OnDareDropsAndRescalesEachOperandWithSeededMasks) {
  const at::Tensor update = at::full({4096}, 1.0f);
  const at::Tensor reference = at::full({4096}, 8.0f);
  const OnlineMergeOptions o = options(OnlineMergeOperator::ondare, 0.5, 1.0, 0.125);
  const at::Tensor merged = merge_update(update, reference, o, 11);
  // w_u·Δ/p = 2 and w_r·τ/p = 2: one operand kept gives 2, both give 4.
  const at::Tensor allowed = (merged == 0) | (merged == 2) | (merged == 4);
  EXPECT_TRUE(allowed.all().item<bool>());
  // Each value's share is about 1/4 (two independent masks with p = 0.5).
  for (const float value : {0.0f, 2.0f, 4.0f}) {
    const double share = (merged == value).to(at::kDouble).mean().item<double>();
    EXPECT_NEAR(share, value == 2.0f ? 0.5 : 0.25, 0.03) << value;
  }
  EXPECT_TRUE(at::equal(merge_update(update, reference, o, 11), merged));
  EXPECT_FALSE(at::equal(merge_update(update, reference, o, 12), merged));
}

TEST(OnlineMerge, OptionsOutOfRangeAreRejected) {
  EXPECT_THROW(validate(options(OnlineMergeOperator::ondare, 0.0, 1.0, 0.1)), Error);
  EXPECT_THROW(validate(options(OnlineMergeOperator::ondare, 1.5, 1.0, 0.1)), Error);
  EXPECT_THROW(validate(options(OnlineMergeOperator::onties, 0.5, -1.0, 0.1)), Error);
  EXPECT_THROW(validate(options(OnlineMergeOperator::onties, 0.5, 1.0, std::nan(""))), Error);
  EXPECT_THROW(online_merge_operator_from_name("dare"), Error);
  EXPECT_EQ(online_merge_operator_from_name("onties"), OnlineMergeOperator::onties);
}

}  // namespace
}  // namespace ladle::merge
