// The per-step merge of online merging optimizers (lib/merge/online_merge.h): expected values from closed forms
// and hand-worked TIES cases, not from the merge engine the operators call.
#include "lib/merge/online_merge.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::floats;

OnlineMergeOptions options(OnlineMergeOperator op, double density, double reference_weight,
                           OnlineSignElection election = OnlineSignElection::sum) {
  OnlineMergeOptions o;
  o.op = op;
  o.density = density;
  o.reference_weight = reference_weight;
  o.election = election;
  return o;
}

// Whether every entry of `values` is one of `allowed`.
bool only_values(const at::Tensor& values, std::initializer_list<float> allowed) {
  at::Tensor any = at::zeros(values.sizes(), at::kBool);
  for (const float value : allowed) any |= values == value;
  return any.all().item<bool>();
}

TEST(OnlineMerge, DensityOneAndNoReferenceReturnsTheUpdateBitForBit) {
  const at::Tensor update = at::randn({37, 5}, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor reference = at::randn({37, 5}, at::TensorOptions().dtype(at::kFloat));
  for (const auto& o : {options(OnlineMergeOperator::ondare, 1.0, 0.0),
                        options(OnlineMergeOperator::onties, 1.0, 0.0, OnlineSignElection::weighted)}) {
    const at::Tensor sparse_reference = sparsify_reference(reference, o, 1);
    EXPECT_TRUE(at::equal(merge_update(update, sparse_reference, o, 3), update)) << online_merge_operator_name(o.op);
  }
}

// OnDARE at density 1: τ̂ = clamp(τ, ±clip) and M = (1 − α)·D + α·τ̂.
TEST(OnlineMerge, OnDareAtDensityOneIsTheWeightedSumWithTheClampedReference) {
  const at::Tensor update = floats({0.5, -1, 2, 0});
  const at::Tensor reference = floats({4, 8, -2, 0.5});
  OnlineMergeOptions o = options(OnlineMergeOperator::ondare, 1.0, 0.25);
  const at::Tensor clamped = sparsify_reference(reference, o, 0);
  EXPECT_TRUE(at::equal(clamped, floats({1, 1, -1, 0.5}))) << clamped;
  EXPECT_TRUE(at::equal(merge_update(update, clamped, o, 0), floats({0.625, -0.5, 1.25, 0.125})));
  o.clip = 0;  // no clamping: M = 0.75·D + 0.25·τ
  const at::Tensor unclamped = sparsify_reference(reference, o, 0);
  EXPECT_TRUE(at::equal(unclamped, reference));
  EXPECT_TRUE(at::equal(merge_update(update, unclamped, o, 0), floats({1.375, 1.25, 1, 0.125})));
}

// D = [0.5, -0.125, 1.5, -1, 0.0625, 0.25], τ = [1, 2, -3, -1, 0.5, -0.25], density 0.5, α = 0.25.
// Trim (3 of 6 by magnitude, ties to the lower index): D̂ = [0.5, 0, 1.5, -1, 0, 0]; |τ| = 1 at indices 0 and 3
// ties for the third place, index 0 wins: τ̂ = [1, 2, -3, 0, 0, 0].
// Sum election (the authors'): τ̂ + D̂ = [1.5, 2, -1.5, -1, 0, 0] → signs [+, +, -, -, +, +]: index 2 keeps the
// reference's -3 and drops the update's 1.5, so M = 0.75·[0.5, 0, 0, -1, 0, 0] + 0.25·[1, 2, -3, 0, 0, 0].
// Weighted election: 0.25·τ̂ + 0.75·D̂ = [0.625, 0.5, 0.375, -0.75, 0, 0] → index 2 is +: the update's 1.5 stays and
// the reference's -3 goes, M = 0.75·[0.5, 0, 1.5, -1, 0, 0] + 0.25·[1, 2, 0, 0, 0, 0].
TEST(OnlineMerge, OnTiesTrimsElectsSignsAndSumsTheAgreeingEntries) {
  const at::Tensor update = floats({0.5, -0.125, 1.5, -1, 0.0625, 0.25});
  const at::Tensor reference = floats({1, 2, -3, -1, 0.5, -0.25});
  const OnlineMergeOptions sum = options(OnlineMergeOperator::onties, 0.5, 0.25);
  const at::Tensor trimmed = sparsify_reference(reference, sum, 0);
  EXPECT_TRUE(at::equal(trimmed, floats({1, 2, -3, 0, 0, 0}))) << trimmed;
  const at::Tensor by_sum = merge_update(update, trimmed, sum, 0);
  EXPECT_TRUE(at::equal(by_sum, floats({0.625, 0.5, -0.75, -0.75, 0, 0}))) << by_sum;
  const OnlineMergeOptions weighted = options(OnlineMergeOperator::onties, 0.5, 0.25, OnlineSignElection::weighted);
  const at::Tensor by_weight = merge_update(update, trimmed, weighted, 0);
  EXPECT_TRUE(at::equal(by_weight, floats({0.625, 0.5, 1.125, -0.75, 0, 0}))) << by_weight;
}

// The authors' OnTIES at α = 0 still filters the update by the reference's signs where the reference dominates the
// sum: D = [0.5, -0.5, 0.5], τ = [-4, -4, 0] → τ + D = [-3.5, -4.5, 0.5]: only index 1 and 2 agree.
TEST(OnlineMerge, OnTiesSumElectionFiltersTheUpdateEvenWithoutReferenceWeight) {
  const OnlineMergeOptions o = options(OnlineMergeOperator::onties, 1.0, 0.0);
  const at::Tensor merged = merge_update(floats({0.5, -0.5, 0.5}), floats({-4, -4, 0}), o, 0);
  EXPECT_TRUE(at::equal(merged, floats({0, -0.5, 0.5}))) << merged;
}

// DARE keeps an entry or not, kept ones divided by p: τ̂ ∈ {0, τ/p} (clamped to ±clip), D̃ ∈ {0, D/p}; about a
// fraction p kept; the masks are fixed by the seed and change with it.
TEST(OnlineMerge, OnDareDropsAndRescalesWithSeededMasks) {
  const at::Tensor update = at::full({4096}, 1.0f);
  const at::Tensor reference = at::full({4096}, 0.25f);
  OnlineMergeOptions o = options(OnlineMergeOperator::ondare, 0.5, 0.0);
  const at::Tensor sparse_reference = sparsify_reference(reference, o, 11);
  EXPECT_TRUE(only_values(sparse_reference, {0.0f, 0.5f}));
  EXPECT_NEAR((sparse_reference != 0).to(at::kDouble).mean().item<double>(), 0.5, 0.03);
  EXPECT_TRUE(at::equal(sparsify_reference(reference, o, 11), sparse_reference));
  EXPECT_FALSE(at::equal(sparsify_reference(reference, o, 12), sparse_reference));
  o.clip = 0.3;
  EXPECT_TRUE(only_values(sparsify_reference(reference, o, 11), {0.0f, 0.3f}));

  const at::Tensor merged = merge_update(update, sparse_reference, o, 5);
  EXPECT_TRUE(only_values(merged, {0.0f, 2.0f}));
  EXPECT_NEAR((merged != 0).to(at::kDouble).mean().item<double>(), 0.5, 0.03);
  EXPECT_TRUE(at::equal(merge_update(update, sparse_reference, o, 5), merged));
  EXPECT_FALSE(at::equal(merge_update(update, sparse_reference, o, 6), merged));
}

// With rescale the dropped update keeps its L1 norm (instead of the 1/p factor), then is clamped to ±clip.
TEST(OnlineMerge, OnDareRescaleMatchesTheL1NormAndClamps) {
  const at::Tensor update = at::linspace(-0.01, 0.02, 4096, at::kFloat);
  OnlineMergeOptions o = options(OnlineMergeOperator::ondare, 0.25, 0.0);
  o.rescale = true;
  const at::Tensor merged = merge_update(update, at::zeros_like(update), o, 3);
  EXPECT_NEAR(merged.abs().sum().item<double>(), update.abs().sum().item<double>(),
              1e-5 * update.abs().sum().item<double>());
  o.clip = 0.05;  // the L1 factor is ~4, so the largest kept entries (0.02·4) are clamped
  const at::Tensor clamped = merge_update(update, at::zeros_like(update), o, 3);
  EXPECT_FLOAT_EQ(clamped.max().item<float>(), 0.05f);
  EXPECT_TRUE(at::equal(clamped, merged.clamp(-0.05, 0.05)));
}

TEST(OnlineMerge, OptionsOutOfRangeAreRejected) {
  EXPECT_THROW(validate(options(OnlineMergeOperator::ondare, 0.0, 0.1)), Error);
  EXPECT_THROW(validate(options(OnlineMergeOperator::ondare, 1.5, 0.1)), Error);
  EXPECT_THROW(validate(options(OnlineMergeOperator::onties, 0.5, -0.1)), Error);
  EXPECT_THROW(validate(options(OnlineMergeOperator::onties, 0.5, 1.5)), Error);
  EXPECT_THROW(validate(options(OnlineMergeOperator::onties, 0.5, std::nan(""))), Error);
  OnlineMergeOptions negative_clip = options(OnlineMergeOperator::ondare, 0.5, 0.1);
  negative_clip.clip = -1;
  EXPECT_THROW(validate(negative_clip), Error);
  EXPECT_NO_THROW(validate(options(OnlineMergeOperator::ondare, 1.0, 1.0)));
  EXPECT_THROW(online_merge_operator_from_name("dare"), Error);
  EXPECT_EQ(online_merge_operator_from_name("onties"), OnlineMergeOperator::onties);
  EXPECT_THROW(online_sign_election_from_name("mean"), Error);
  EXPECT_EQ(online_sign_election_from_name("weighted"), OnlineSignElection::weighted);
}

}  // namespace
}  // namespace ladle::merge
