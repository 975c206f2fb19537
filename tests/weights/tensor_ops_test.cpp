// Per-tensor weight-space arithmetic: weighted sums and means, lerp, difference, norms, cosine, storage casts.
#include "lib/weights/tensor_ops.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle {
namespace {

using ladle::testing::floats;
using ladle::testing::error_message;
using ladle::testing::contains;

// The message of the ladle::Error thrown by `run`, or a failure when it throws nothing.

TEST(WeightedSum, MatchesHandComputedCase) {
  const at::Tensor sum = weighted_sum({floats({1, 2}), floats({3, 4})}, {0.5, 2.0});
  EXPECT_TRUE(at::equal(sum, floats({6.5f, 9.0f})));
}

// 256 + 1 is not a bf16 value (the spacing at 256 is 2), so bf16 accumulation would return 256.
TEST(WeightedSum, Bf16InputsAccumulateInFp32) {
  const at::Tensor sum = weighted_sum({at::full({3}, 256.0, at::kBFloat16), at::ones({3}, at::kBFloat16)}, {1, 1});
  EXPECT_EQ(sum.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(sum, at::full({3}, 257.0f)));
}

TEST(WeightedSum, Fp64InputMakesFp64Result) {
  const at::Tensor sum = weighted_sum({floats({1}), at::ones({1}, at::kDouble)}, {1, 1e-12});
  EXPECT_EQ(sum.scalar_type(), at::kDouble);
  EXPECT_EQ(sum.item<double>(), 1.0 + 1e-12);
}

TEST(WeightedSum, EmptyInputThrows) {
  EXPECT_TRUE(contains(error_message([] { weighted_sum({}, {}); }), "no tensors"));
}

TEST(WeightedSum, WeightCountMismatchThrows) {
  EXPECT_TRUE(contains(error_message([] { weighted_sum({floats({1}), floats({2})}, {1.0}); }), "1 weights"));
}

TEST(WeightedSum, ShapeMismatchNamesBothShapes) {
  const std::string message = error_message([] { weighted_sum({at::zeros({2, 3}), at::zeros({3, 2})}, {1, 1}); });
  EXPECT_TRUE(contains(message, "input 1 has shape [3, 2], expected [2, 3]")) << message;
}

TEST(WeightedSum, IntegerInputThrowsNamingDtype) {
  const std::string message = error_message([] { weighted_sum({at::ones({2}, at::kLong)}, {1}); });
  EXPECT_TRUE(contains(message, "Long")) << message;
}

TEST(WeightedSum, DeviceMismatchThrows) {
  const at::Tensor on_meta = at::empty({2}, at::TensorOptions().device(at::kMeta));
  const std::string message = error_message([&] { weighted_sum({at::zeros({2}), on_meta}, {1, 1}); });
  EXPECT_TRUE(contains(message, "meta")) << message;
}

TEST(WeightedSum, MetaDeviceInputsGiveResultOnTheirDevice) {
  const auto meta = at::TensorOptions().dtype(at::kBFloat16).device(at::kMeta);
  const at::Tensor sum = weighted_sum({at::empty({4, 2}, meta), at::empty({4, 2}, meta)}, {0.5, 0.5});
  EXPECT_EQ(sum.device().type(), at::kMeta);
  EXPECT_EQ(sum.scalar_type(), at::kFloat);
  EXPECT_EQ(sum.sizes(), (std::vector<std::int64_t>{4, 2}));
}

TEST(WeightedMean, MatchesHandComputedCase) {
  const at::Tensor mean = weighted_mean({floats({1, 2}), floats({3, 4})}, {1, 3});
  EXPECT_TRUE(at::equal(mean, floats({2.5f, 3.5f})));
}

TEST(WeightedMean, ZeroWeightSumThrows) {
  EXPECT_TRUE(contains(error_message([] { weighted_mean({floats({1}), floats({2})}, {1, -1}); }), "sum to 0"));
}

// N·t is exact in fp32 for bf16 t (8 significant bits) and N < 2^16, and so is the final division by N.
TEST(WeightedMean, IdenticalBf16CopiesAverageToTheCopy) {
  at::manual_seed(3);
  const at::Tensor copy = at::randn({257}).to(at::kBFloat16);
  const std::vector<at::Tensor> copies(7, copy);
  const at::Tensor mean = weighted_mean(copies, std::vector<double>(7, 1.0));
  EXPECT_TRUE(at::equal(mean, copy.to(at::kFloat)));
  EXPECT_TRUE(at::equal(to_storage_dtype(mean, at::kBFloat16), copy));
}

// Σ wᵢ·t with integer weights summing to 15 needs at most 11 + 4 significant bits for fp16 t: exact in fp32.
TEST(WeightedMean, IdenticalFp16CopiesWithIntegerWeightsAverageToTheCopy) {
  at::manual_seed(4);
  const at::Tensor copy = at::randn({1001}).to(at::kHalf);
  const at::Tensor mean = weighted_mean(std::vector<at::Tensor>(5, copy), {1, 2, 3, 4, 5});
  EXPECT_TRUE(at::equal(mean, copy.to(at::kFloat)));
}

TEST(Lerp, EndpointsReturnTheInputsExactly) {
  at::manual_seed(5);
  const at::Tensor a = at::randn({333});
  const at::Tensor b = at::randn({333});
  EXPECT_TRUE(at::equal(lerp(a, b, 0.0), a));
  EXPECT_TRUE(at::equal(lerp(a, b, 1.0), b));
}

TEST(Lerp, MatchesHandComputedCase) {
  EXPECT_TRUE(at::equal(lerp(floats({0, 10}), floats({4, 2}), 0.25), floats({1, 8})));
}

TEST(Lerp, Bf16InputsGiveFp32Result) {
  const at::Tensor mid = lerp(at::full({2}, 256.0, at::kBFloat16), at::full({2}, 258.0, at::kBFloat16), 0.5);
  EXPECT_EQ(mid.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(mid, at::full({2}, 257.0f)));
}

TEST(Difference, MatchesHandComputedCase) {
  EXPECT_TRUE(at::equal(difference(floats({5, 1}), floats({2, 3})), floats({3, -2})));
}

TEST(Difference, Bf16InputsGiveExactFp32TaskVector) {
  // 1 + 2^-7 and 1 are bf16 values; their difference 2^-7 is exact in fp32.
  const at::Tensor delta = difference(at::full({1}, 1.0078125, at::kBFloat16), at::ones({1}, at::kBFloat16));
  EXPECT_EQ(delta.scalar_type(), at::kFloat);
  EXPECT_EQ(delta.item<float>(), 0.0078125f);
}

TEST(Difference, ShapeMismatchNamesBothShapes) {
  const std::string message = error_message([] { difference(at::zeros({4}), at::zeros({2, 2})); });
  EXPECT_TRUE(contains(message, "[2, 2]") && contains(message, "[4]")) << message;
}

TEST(L2Norm, MatchesHandComputedCase) {
  EXPECT_DOUBLE_EQ(l2_norm(floats({3, 4})), 5.0);
  EXPECT_DOUBLE_EQ(l2_norm(at::full({2, 2}, 0.5, at::kBFloat16)), 1.0);
}

TEST(CosineSimilarity, OrthogonalVectorsGiveZero) {
  EXPECT_DOUBLE_EQ(ladle::cosine_similarity(floats({1, 0, 2}), floats({0, 3, 0})), 0.0);
}

TEST(CosineSimilarity, ParallelVectorsGiveOne) {
  EXPECT_NEAR(ladle::cosine_similarity(floats({1, 2, 3}), floats({2, 4, 6})), 1.0, 1e-15);
}

TEST(CosineSimilarity, AntiParallelVectorsGiveMinusOne) {
  EXPECT_NEAR(ladle::cosine_similarity(floats({1, -2, 3}), floats({-0.5f, 1, -1.5f})), -1.0, 1e-15);
}

TEST(CosineSimilarity, ComparesFlattenedTensors) {
  // ⟨a, b⟩ = 1·1 + 1·0 + 1·1 + 1·0 = 2, ‖a‖ = 2, ‖b‖ = √2.
  EXPECT_NEAR(ladle::cosine_similarity(at::ones({2, 2}), floats({1, 0, 1, 0})), 2.0 / (2.0 * std::sqrt(2.0)), 1e-15);
}

TEST(CosineSimilarity, ZeroNormGivesZero) {
  EXPECT_EQ(ladle::cosine_similarity(at::zeros({3}), floats({1, 2, 3})), 0.0);
  EXPECT_EQ(ladle::cosine_similarity(floats({1, 2, 3}), at::zeros({3})), 0.0);
}

TEST(CosineSimilarity, ElementCountMismatchThrows) {
  const std::string message = error_message([] { ladle::cosine_similarity(at::zeros({3}), at::zeros({4})); });
  EXPECT_TRUE(contains(message, "[3]") && contains(message, "[4]")) << message;
}

// bf16 keeps 7 fraction bits: 1 + 2^-8 is halfway between 1 and 1 + 2^-7.
TEST(ToStorageDtype, RoundsToNearestWithTiesToEven) {
  const at::Tensor accumulated = at::tensor(std::vector<float>{1.0f + 0x1p-8f,              // tie -> 1 (even)
                                                               1.0f + 3 * 0x1p-8f,          // tie -> 1 + 2^-6 (even)
                                                               1.0f + 0x1p-8f + 0x1p-20f},  // above tie -> 1 + 2^-7
                                            at::kFloat);
  const at::Tensor stored = to_storage_dtype(accumulated, at::kBFloat16);
  EXPECT_EQ(stored.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(stored.to(at::kFloat), floats({1.0f, 1.0f + 0x1p-6f, 1.0f + 0x1p-7f})));
}

TEST(ToStorageDtype, IntegerTargetThrows) {
  EXPECT_TRUE(contains(error_message([] { to_storage_dtype(floats({1}), at::kInt); }), "Int"));
}

TEST(AccumulationDtype, Fp32UnlessAnInputIsFp64) {
  EXPECT_EQ(accumulation_dtype({at::zeros({1}, at::kBFloat16), at::zeros({1}, at::kHalf)}), at::kFloat);
  EXPECT_EQ(accumulation_dtype({at::zeros({1}, at::kBFloat16), at::zeros({1}, at::kDouble)}), at::kDouble);
}

}  // namespace
}  // namespace ladle
