// Weight-space arithmetic over NamedTensors: name-by-name results and layout errors that name the tensors.
#include "lib/weights/named_tensor_ops.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle {
namespace {

using ladle::testing::floats;
using ladle::testing::error_message;
using ladle::testing::contains;

NamedTensors make_set(std::vector<std::pair<std::string, at::Tensor>> entries) {
  NamedTensors set;
  for (auto& [name, tensor] : entries) set.insert(name, tensor);
  return set;
}

TEST(NamedWeightedMean, AveragesNameByNameInFirstSetOrder) {
  const NamedTensors a = make_set({{"w", floats({1, 2})}, {"b", floats({0})}});
  const NamedTensors b = make_set({{"b", floats({3})}, {"w", floats({3, 4})}});
  const NamedTensors c = make_set({{"w", floats({5, 9})}, {"b", floats({9})}});
  const NamedTensors mean = weighted_mean({&a, &b, &c}, {1, 1, 2});
  EXPECT_EQ(mean.names(), (std::vector<std::string>{"w", "b"}));
  EXPECT_TRUE(at::equal(mean.at("w"), floats({3.5f, 6.0f})));  // (1 + 3 + 10)/4, (2 + 4 + 18)/4
  EXPECT_TRUE(at::equal(mean.at("b"), floats({5.25f})));       // (0 + 3 + 18)/4
}

TEST(NamedWeightedSum, SumsNameByName) {
  const NamedTensors a = make_set({{"w", floats({1, 2})}});
  const NamedTensors b = make_set({{"w", floats({10, 20})}});
  EXPECT_TRUE(at::equal(weighted_sum({&a, &b}, {2, -1}).at("w"), floats({-8, -16})));
}

TEST(NamedWeightedSum, EmptyInputThrows) {
  EXPECT_TRUE(contains(error_message([] { weighted_sum({}, {}); }), "no sets"));
}

TEST(NamedWeightedSum, NullInputThrowsNamingIt) {
  const NamedTensors a = make_set({{"w", floats({1})}});
  EXPECT_TRUE(contains(error_message([&] { weighted_sum({&a, nullptr}, {1, 1}); }), "input 1 is null"));
}

TEST(NamedWeightedSum, MissingNameThrowsNamingTensorAndSets) {
  const NamedTensors a = make_set({{"w", floats({1})}, {"b", floats({1})}});
  const NamedTensors b = make_set({{"w", floats({1})}});
  const std::string message = error_message([&] { weighted_sum({&a, &b}, {1, 1}); });
  EXPECT_TRUE(contains(message, "missing from input 1: 'b'")) << message;
}

TEST(NamedWeightedSum, IntegerTensorThrowsNamingIt) {
  const NamedTensors a = make_set({{"w", floats({1})}, {"steps", at::ones({1}, at::kLong)}});
  const std::string message = error_message([&] { weighted_sum({&a, &a}, {1, 1}); });
  EXPECT_TRUE(contains(message, "tensor 'steps'") && contains(message, "Long")) << message;
}

TEST(NamedWeightedMean, ZeroWeightSumThrowsNamingTensor) {
  const NamedTensors a = make_set({{"w", floats({1})}});
  EXPECT_TRUE(contains(error_message([&] { weighted_mean({&a, &a}, {1, -1}); }), "tensor 'w'"));
}

TEST(NamedLerp, InterpolatesNameByName) {
  const NamedTensors zero_shot = make_set({{"w", floats({0, 10})}});
  const NamedTensors fine_tuned = make_set({{"w", floats({4, 2})}});
  EXPECT_TRUE(at::equal(lerp(zero_shot, fine_tuned, 0.25).at("w"), floats({1, 8})));
}

TEST(TaskVector, IsFinetunedMinusBase) {
  const NamedTensors finetuned = make_set({{"w", floats({5, 1})}, {"b", floats({2})}});
  const NamedTensors base = make_set({{"w", floats({2, 3})}, {"b", floats({2})}});
  const NamedTensors tau = task_vector(finetuned, base);
  EXPECT_TRUE(at::equal(tau.at("w"), floats({3, -2})));
  EXPECT_TRUE(at::equal(tau.at("b"), floats({0})));
}

TEST(TaskVector, ShapeMismatchThrowsNamingTensorShapesAndSets) {
  const NamedTensors finetuned = make_set({{"w", at::zeros({2, 3})}});
  const NamedTensors base = make_set({{"w", at::zeros({3, 2})}});
  const std::string message = error_message([&] { task_vector(finetuned, base); });
  EXPECT_TRUE(contains(message, "'w' [2, 3] in finetuned vs [3, 2] in base")) << message;
}

TEST(AddScaled, AddsScaledDeltaToBase) {
  const NamedTensors base = make_set({{"w", floats({1, 2})}});
  const NamedTensors delta = make_set({{"w", floats({4, -8})}});
  EXPECT_TRUE(at::equal(add_scaled(base, delta, 0.5).at("w"), floats({3, -2})));
}

TEST(PerTensorL2Norms, ReportsEveryTensorInOrder) {
  const NamedTensors set = make_set({{"a", floats({3, 4})}, {"b", at::zeros({2})}});
  const auto norms = per_tensor_l2_norms(set);
  ASSERT_EQ(norms.size(), 2u);
  EXPECT_EQ(norms[0].first, "a");
  EXPECT_DOUBLE_EQ(norms[0].second, 5.0);
  EXPECT_EQ(norms[1].first, "b");
  EXPECT_EQ(norms[1].second, 0.0);
}

TEST(PerTensorCosine, ReportsEveryTensorInFirstSetOrder) {
  const NamedTensors a = make_set({{"x", floats({1, 0})}, {"y", floats({1, 2})}, {"z", at::zeros({2})}});
  const NamedTensors b = make_set({{"z", floats({1, 1})}, {"y", floats({-2, -4})}, {"x", floats({0, 5})}});
  const auto cosines = per_tensor_cosine(a, b);
  ASSERT_EQ(cosines.size(), 3u);
  EXPECT_EQ(cosines[0], (std::pair<std::string, double>{"x", 0.0}));
  EXPECT_EQ(cosines[1].first, "y");
  EXPECT_NEAR(cosines[1].second, -1.0, 1e-15);
  EXPECT_EQ(cosines[2], (std::pair<std::string, double>{"z", 0.0}));
}

TEST(Cast, RoundsFloatingTensorsAndKeepsIntegerTensors) {
  const NamedTensors set = make_set({{"w", floats({1.0f + 0x1p-8f, 3.0f})}, {"steps", at::full({1}, 7, at::kLong)}});
  const NamedTensors stored = cast(set, at::kBFloat16);
  EXPECT_EQ(stored.at("w").scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(stored.at("w").to(at::kFloat), floats({1.0f, 3.0f})));
  EXPECT_EQ(stored.at("steps").scalar_type(), at::kLong);
  EXPECT_EQ(stored.at("steps").item<std::int64_t>(), 7);
}

TEST(RequireSameLayout, AcceptsSameNamesInAnotherOrder) {
  const NamedTensors a = make_set({{"x", at::zeros({2})}, {"y", at::zeros({3})}});
  const NamedTensors b = make_set({{"y", at::ones({3})}, {"x", at::ones({2}, at::kBFloat16)}});
  EXPECT_NO_THROW(require_same_layout(a, b, "a", "b"));
}

TEST(RequireSameLayout, ListsMissingExtraAndMismatchedTensors) {
  const NamedTensors model = make_set({{"kept", at::zeros({2})}, {"gone", at::zeros({1})}, {"w", at::zeros({4})}});
  const NamedTensors checkpoint = make_set({{"kept", at::zeros({2})}, {"new", at::zeros({1})}, {"w", at::zeros({5})}});
  const std::string message = error_message([&] { require_same_layout(model, checkpoint, "model", "checkpoint"); });
  EXPECT_TRUE(contains(message, "1 missing from checkpoint: 'gone'")) << message;
  EXPECT_TRUE(contains(message, "1 only in checkpoint: 'new'")) << message;
  EXPECT_TRUE(contains(message, "'w' [4] in model vs [5] in checkpoint")) << message;
}

TEST(RequireSameLayout, ListsOnlyTheFirstFewNames) {
  NamedTensors many;
  for (int i = 0; i < 8; ++i) many.insert("t" + std::to_string(i), at::zeros({1}));
  const std::string message = error_message([&] { require_same_layout(many, NamedTensors(), "full", "empty"); });
  EXPECT_TRUE(contains(message, "8 missing from empty: 't0', 't1', 't2', 't3', 't4' and 3 more")) << message;
  EXPECT_FALSE(contains(message, "'t5'")) << message;
}

}  // namespace
}  // namespace ladle
