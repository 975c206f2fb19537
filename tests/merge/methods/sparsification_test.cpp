// Task-vector sparsification shared by TIES, DARE, Model Breadcrumbs and DELLA, and the whole-model magnitude
// threshold for TIES's global trimming.
#include "lib/merge/methods/sparsification.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "lib/merge/methods/magnitude_threshold.h"
#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::floats;

at::Tensor bools(std::vector<bool> values) {
  at::Tensor mask = at::zeros({static_cast<std::int64_t>(values.size())}, at::kBool);
  for (std::size_t i = 0; i < values.size(); ++i) mask[static_cast<std::int64_t>(i)] = static_cast<bool>(values[i]);
  return mask;
}

TEST(KeptCount, TruncatesLikeMergekitButKeepsAtLeastOne) {
  EXPECT_EQ(kept_count(0.5, 5), 2);
  EXPECT_EQ(kept_count(0.2, 4), 1);  // ⌊0.8⌋ = 0: mergekit asserts; a positive density keeps one
  EXPECT_EQ(kept_count(1.0, 4), 4);
  EXPECT_EQ(kept_count(0.0, 4), 0);
  EXPECT_EQ(kept_count(0.5, 0), 0);
}

// The reference: positions of a stable sort, taken from its start or its end.
at::Tensor stable_sort_mask(const at::Tensor& values, std::int64_t count, bool descending, bool from_start) {
  const at::Tensor order = std::get<1>(at::sort(values.abs(), /*stable=*/true, 0, descending));
  const std::int64_t n = values.numel();
  at::Tensor mask = at::zeros({n}, at::kBool);
  mask.index_fill_(0, from_start ? order.slice(0, 0, count) : order.slice(0, n - count, n), true);
  return mask;
}

TEST(ExtremeMagnitudeMask, SelectsExactlyWhatAStableSortWouldWithManyTies) {
  at::manual_seed(3);
  const at::Tensor values = (at::randn({997}) * 3).round();  // about a dozen distinct magnitudes
  for (std::int64_t count : {0, 1, 5, 100, 498, 996, 997}) {
    EXPECT_TRUE(
        at::equal(extreme_magnitude_mask(values, count, true, true), stable_sort_mask(values, count, true, true)));
    EXPECT_TRUE(
        at::equal(extreme_magnitude_mask(values, count, false, true), stable_sort_mask(values, count, false, true)));
    EXPECT_TRUE(
        at::equal(extreme_magnitude_mask(values, count, true, false), stable_sort_mask(values, count, false, false)));
    EXPECT_TRUE(
        at::equal(extreme_magnitude_mask(values, count, false, false), stable_sort_mask(values, count, true, false)));
  }
}

TEST(OutlierTrimmedMask, KeepsTheMiddleOfTheStableAscendingOrder) {
  at::manual_seed(4);
  const at::Tensor values = (at::randn({500}) * 2).round();
  // n_top = ⌊0.1·500⌋ = 50, kept 200, n_bottom = 250: positions [250, 450) of the stable ascending order.
  const at::Tensor order = std::get<1>(at::sort(values.abs(), /*stable=*/true, 0, /*descending=*/false));
  at::Tensor expected = at::zeros({500}, at::kBool);
  expected.index_fill_(0, order.slice(0, 250, 450), true);
  EXPECT_TRUE(at::equal(outlier_trimmed_mask(values, 0.4, 0.1), expected));
}

TEST(TopMagnitudeMask, KeepsTheLargestMagnitudes) {
  EXPECT_TRUE(at::equal(top_magnitude_mask(floats({0.1f, -5, 2, -3}), 0.5), bools({false, true, false, true})));
}

TEST(TopMagnitudeMask, TiesAtTheCutGoToTheLowerIndex) {
  EXPECT_TRUE(at::equal(top_magnitude_mask(floats({1, -2, 2, 2}), 0.5), bools({false, true, true, false})));
}

TEST(Sparsify, MagnitudeWithRescaleKeepsTheL1Norm) {
  SparsifyOptions options;
  options.density = 0.5;
  options.rescale = Rescale::kMatchL1;
  // ‖τ‖₁ = 10, kept [0, 4, 0, -3] with ‖·‖₁ = 7: scaled by 10/7.
  const at::Tensor result = sparsify(floats({1, 4, 2, -3}), Sparsification::kMagnitude, options);
  EXPECT_TRUE(at::allclose(result, floats({0, 40.0f / 7, 0, -30.0f / 7})));
}

TEST(Sparsify, KeepsTheInputDtype) {
  SparsifyOptions options;
  options.density = 0.5;
  for (auto method : {Sparsification::kMagnitude, Sparsification::kRandom, Sparsification::kMagnitudeOutliers,
                      Sparsification::kDellaMagprune}) {
    EXPECT_EQ(sparsify(floats({1, 2, 3, 4}).to(at::kDouble), method, options).scalar_type(), at::kDouble);
    EXPECT_EQ(sparsify(floats({1, 2, 3, 4}).to(at::kBFloat16), method, options).scalar_type(), at::kBFloat16);
  }
}

TEST(Sparsify, EmptyAndOneEntryTensorsNeverFail) {
  SparsifyOptions options;
  options.density = 0.3;
  for (auto method : {Sparsification::kMagnitude, Sparsification::kRandom, Sparsification::kMagnitudeOutliers,
                      Sparsification::kDellaMagprune}) {
    EXPECT_EQ(sparsify(at::zeros({0}), method, options).numel(), 0);
    EXPECT_EQ(sparsify(at::zeros({3, 0}), method, options).numel(), 0);
    EXPECT_EQ(sparsify(floats({2}), method, options).numel(), 1);
    EXPECT_EQ(sparsify(at::scalar_tensor(2, at::kFloat), method, options).dim(), 0);
  }
}

// A row of 5 entries, ε = 0.1, density 0.5: ranks 0..4 by magnitude map to 0.4, 0.45, 0.5, 0.55, 0.6.
TEST(DellaKeepProbabilities, GrowLinearlyWithTheMagnitudeRankInEachRow) {
  const at::Tensor values = floats({-5, 1, 3, -2, 4, 1, 2, 3, 4, 5}).view({2, 5});
  const at::Tensor expected = floats({0.6f, 0.4f, 0.5f, 0.45f, 0.55f, 0.4f, 0.45f, 0.5f, 0.55f, 0.6f}).view({2, 5});
  EXPECT_TRUE(at::allclose(della_keep_probabilities(values, 0.5, 0.1), expected));
}

TEST(DellaKeepProbabilities, RejectsDensityPlusEpsilonOutsideTheUnitInterval) {
  EXPECT_THROW(della_keep_probabilities(floats({1, 2}), 0.1, 0.1), Error);
  EXPECT_THROW(della_keep_probabilities(floats({1, 2}), 0.9, 0.1), Error);
}

// DELLA's paper rescale: each kept entry divided by its own keep probability.
TEST(Sparsify, DellaInverseProbabilityRescaleDividesByEachEntrysProbability) {
  SparsifyOptions options;
  options.density = 0.5;
  options.epsilon = 0.1;
  options.rescale = Rescale::kInverseProbability;
  options.seed = 3;
  const at::Tensor values = floats({1, 2, 3, 4, 5});
  const at::Tensor result = sparsify(values, Sparsification::kDellaMagprune, options);
  const at::Tensor probability = floats({0.4f, 0.45f, 0.5f, 0.55f, 0.6f});
  const at::Tensor kept = result != 0;
  EXPECT_TRUE(at::allclose(result.masked_select(kept), (values / probability).masked_select(kept)));
}

TEST(BernoulliMask, KeepsEachEntryWithItsProbability) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
  const at::Tensor mask = bernoulli_mask(at::full({200000}, 0.7), {200000}, generator);
  EXPECT_NEAR(mask.to(at::kDouble).mean().item<double>(), 0.7, 0.005);
}

// ---- whole-model magnitude threshold ----

// The k-th largest |value| over the concatenation, found by sorting everything (the in-memory reference).
double sorted_threshold(const std::vector<at::Tensor>& tensors, double density) {
  std::vector<at::Tensor> flat;
  for (const at::Tensor& tensor : tensors) flat.push_back(tensor.abs().to(at::kFloat).reshape(-1));
  const at::Tensor all = std::get<0>(at::sort(at::cat(flat), /*stable=*/true, 0, /*descending=*/true));
  return all[kept_count(density, all.numel()) - 1].item<double>();
}

double streamed_threshold(const std::vector<at::Tensor>& tensors, double density) {
  return global_magnitude_threshold(
      [&](const std::function<void(const at::Tensor&)>& visit) {
        for (const at::Tensor& tensor : tensors) visit(tensor);
      },
      density);
}

TEST(GlobalMagnitudeThreshold, EqualsTheKthLargestMagnitudeOfTheWholeModelExactly) {
  at::manual_seed(5);
  const std::vector<at::Tensor> tensors = {at::randn({300, 17}) * 0.01, at::randn({1000}), at::randn({7, 7, 7}) * 50,
                                           at::zeros({5}), at::randn({1})};
  for (double density : {0.001, 0.1, 0.25, 0.5, 0.9, 0.999}) {
    EXPECT_EQ(streamed_threshold(tensors, density), sorted_threshold(tensors, density)) << density;
  }
}

TEST(GlobalMagnitudeThreshold, HandlesRepeatedValuesAndBf16Inputs) {
  const std::vector<at::Tensor> tensors = {at::full({100}, 3.0).to(at::kBFloat16), floats({-3, 1, 2}),
                                           at::full({10}, -0.5).to(at::kBFloat16)};
  for (double density : {0.05, 0.5, 0.9, 0.95}) {
    EXPECT_EQ(streamed_threshold(tensors, density), sorted_threshold(tensors, density)) << density;
  }
}

TEST(GlobalMagnitudeThreshold, KeepsEverythingAtDensityOneAndNothingAtZero) {
  const std::vector<at::Tensor> tensors = {floats({1, -2, 3})};
  EXPECT_EQ(streamed_threshold(tensors, 1.0), 0.0);
  EXPECT_EQ(streamed_threshold(tensors, 0.0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(streamed_threshold({}, 0.5), std::numeric_limits<double>::infinity());
}

TEST(GlobalMagnitudeThreshold, KeepsKEntriesWhenMagnitudesAreDistinct) {
  at::manual_seed(9);
  const std::vector<at::Tensor> tensors = {at::randn({4000}), at::randn({50, 20})};
  const double threshold = streamed_threshold(tensors, 0.3);
  std::int64_t kept = 0;
  for (const at::Tensor& tensor : tensors) {
    kept += magnitude_threshold_mask(tensor, threshold).sum().item<std::int64_t>();
  }
  EXPECT_EQ(kept, kept_count(0.3, 5000));
}

TEST(MagnitudeThresholdFinder, MissingSecondPassIsAnError) {
  MagnitudeThresholdFinder finder(0.5);
  finder.add_first_pass(floats({1, 2, 3, 4}));
  EXPECT_TRUE(finder.needs_second_pass());
  EXPECT_THROW(finder.threshold(), Error);
}

}  // namespace
}  // namespace ladle::merge
