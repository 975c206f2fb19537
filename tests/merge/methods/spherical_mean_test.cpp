// multislerp and karcher: means of several models' directions on the sphere, scaled by their mean norm.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "lib/merge/methods/karcher.h"
#include "lib/merge/methods/multislerp.h"
#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::floats;
using ladle::testing::error_message;

MethodInputs inputs_of(std::optional<at::Tensor> base, std::vector<at::Tensor> models) {
  MethodInputs inputs;
  inputs.tensor_name = "model.layers.1.self_attn.q_proj.weight";
  inputs.base = std::move(base);
  inputs.models = std::move(models);
  for (std::size_t i = 0; i < inputs.models.size(); ++i) {
    inputs.model_names.push_back("m" + std::to_string(i));
    inputs.model_parameters.push_back({{"weight", 1.0}});
  }
  return inputs;
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tolerance = 1e-5) {
  EXPECT_TRUE(at::allclose(actual, expected, 0, tolerance)) << actual << "\nexpected\n" << expected;
}

TEST(MultiSlerpMerge, OrthogonalUnitVectorsGiveTheMidpointOfTheArc) {
  const double s = 1.0 / std::sqrt(2.0);
  expect_close(MultiSlerpMerge().merge(inputs_of(std::nullopt, {floats({1, 0}), floats({0, 1})})),
               floats({float(s), float(s)}));
}

// Directions 0°, 0°, 90° with norm 2: the weighted tangent vectors at the normalised mean direction sum to zero,
// so the result is that direction, (2, 1)/√5, scaled by the mean norm 2.
TEST(MultiSlerpMerge, ThreeInputsGiveTheMeanDirectionScaledByTheMeanNorm) {
  const at::Tensor merged =
      MultiSlerpMerge().merge(inputs_of(std::nullopt, {floats({2, 0}), floats({2, 0}), floats({0, 2})}));
  expect_close(merged, floats({float(4 / std::sqrt(5.0)), float(2 / std::sqrt(5.0))}));
}

TEST(MultiSlerpMerge, WithABaseWorksOnTaskVectors) {
  const double s = 1.0 / std::sqrt(2.0);
  const at::Tensor merged =
      MultiSlerpMerge().merge(inputs_of(floats({5, 5}), {floats({6, 5}), floats({5, 6})}));
  expect_close(merged, floats({float(5 + s), float(5 + s)}));
}

TEST(MultiSlerpMerge, CopiesReturnTheCopy) {
  const at::Tensor copy = floats({0.25f, -3, 1.5f});
  expect_close(MultiSlerpMerge().merge(inputs_of(std::nullopt, {copy, copy, copy})), copy);
}

// Three fine-tunes that did not change a (frozen) tensor: mergekit raises on the zero mean direction.
TEST(MultiSlerpMerge, UnchangedTensorReturnsTheBase) {
  const at::Tensor base = floats({1, 2, 3});
  expect_close(MultiSlerpMerge().merge(inputs_of(base, {base, base, base})), base);
}

TEST(MultiSlerpMerge, CancellingAntipodalInputsAreAnError) {
  const std::string message = error_message([&] {
    MultiSlerpMerge().merge(inputs_of(std::nullopt, {floats({1, 0}), floats({-1, 0}), floats({1, 0}),
                                                     floats({-1, 0})}));
  });
  EXPECT_NE(message.find("model.layers.1.self_attn.q_proj.weight"), std::string::npos) << message;
}

TEST(KarcherMerge, OrthogonalUnitVectorsGiveTheMidpointOfTheArc) {
  const double s = 1.0 / std::sqrt(2.0);
  expect_close(KarcherMerge().merge(inputs_of(std::nullopt, {floats({1, 0}), floats({0, 1})})),
               floats({float(s), float(s)}));
}

// On a circle the Karcher mean of the angles 0, 0 and 90° is their arithmetic mean, 30°, unlike the normalised
// Euclidean mean (atan(1/2) ≈ 26.6°). Norms 1, 1, 4 give the mean norm 2.
TEST(KarcherMerge, ThreeDirectionsOnACircleGiveTheMeanAngle) {
  const at::Tensor merged =
      KarcherMerge().merge(inputs_of(std::nullopt, {floats({1, 0}), floats({1, 0}), floats({0, 4})}));
  expect_close(merged, floats({float(2 * std::cos(M_PI / 6)), float(2 * std::sin(M_PI / 6))}));
}

TEST(KarcherMerge, BaseCountsAsOneMoreInput) {
  const double s = 1.0 / std::sqrt(2.0);
  MethodInputs inputs = inputs_of(floats({1, 0}), {floats({0, 1})});
  expect_close(KarcherMerge().merge(inputs), floats({float(s), float(s)}));
}

TEST(KarcherMerge, CopiesReturnTheCopy) {
  const at::Tensor copy = floats({0.25f, -3, 1.5f});
  expect_close(KarcherMerge().merge(inputs_of(std::nullopt, {copy, copy, copy})), copy);
}

TEST(KarcherMerge, AllZeroInputsGiveZeros) {
  const at::Tensor zero = at::zeros({3});
  EXPECT_TRUE(at::equal(KarcherMerge().merge(inputs_of(std::nullopt, {zero, zero})), zero));
}

}  // namespace
}  // namespace ladle::merge
