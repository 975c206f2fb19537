// slerp and nuslerp: spherical interpolation between two models.
#include "lib/merge/methods/slerp.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::floats;
using ladle::testing::error_message;
using ladle::testing::contains;

MethodInputs slerp_inputs(at::Tensor base, at::Tensor other, double t) {
  MethodInputs inputs;
  inputs.tensor_name = "model.embed_tokens.weight";
  inputs.base = std::move(base);
  inputs.models = {std::move(other)};
  inputs.model_names = {"other"};
  inputs.model_parameters = {{}};
  inputs.parameters = {{"t", t}};
  return inputs;
}

MethodInputs nuslerp_inputs(std::optional<at::Tensor> base, at::Tensor a, at::Tensor b, double wa, double wb) {
  MethodInputs inputs;
  inputs.tensor_name = "model.norm.weight";
  inputs.base = std::move(base);
  inputs.models = {std::move(a), std::move(b)};
  inputs.model_names = {"a", "b"};
  inputs.model_parameters = {{{"weight", wa}}, {{"weight", wb}}};
  return inputs;
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tolerance = 1e-6) {
  EXPECT_TRUE(at::allclose(actual, expected, 0, tolerance)) << actual << "\nexpected\n" << expected;
}

TEST(Slerp, OrthogonalUnitVectorsAtHalfwayGiveTheirNormalisedSum) {
  const double s = 1.0 / std::sqrt(2.0);
  expect_close(slerp(0.5, floats({1, 0}), floats({0, 1})), floats({float(s), float(s)}));
}

// θ = π/2, t = 1/3: sin(π/3)/1·v0 + sin(π/6)/1·v1 = (√3/2, 1/2), a unit vector 30° from v0.
TEST(Slerp, OrthogonalUnitVectorsAtOneThirdFollowTheArc) {
  expect_close(slerp(1.0 / 3.0, floats({1, 0}), floats({0, 1})), floats({float(std::sqrt(3.0) / 2), 0.5f}));
}

TEST(Slerp, EndpointsReturnTheInputs) {
  const at::Tensor a = floats({1, 2, 3});
  const at::Tensor b = floats({-2, 0.5, 1});
  expect_close(slerp(0, a, b), a);
  expect_close(slerp(1, a, b), b);
}

// cos = 1/√(1 + 0.01²) ≈ 0.99995 > 0.9995: colinear enough for mergekit's lerp fallback.
TEST(Slerp, NearlyParallelVectorsFallBackToLerp) {
  const at::Tensor a = floats({1, 0});
  const at::Tensor b = floats({2, 0.02f});
  expect_close(slerp(0.25, a, b), floats({1.25f, 0.005f}));
}

TEST(Slerp, InterpolatesNormsAsWellAsDirections) {
  // Orthogonal vectors of norms 2 and 4 at t = 0.5: (2·e0 + 4·e1)/√2.
  const double s = 1.0 / std::sqrt(2.0);
  expect_close(slerp(0.5, floats({2, 0}), floats({0, 4})), floats({float(2 * s), float(4 * s)}));
}

TEST(SlerpMerge, TZeroIsTheBase) {
  const at::Tensor base = floats({3, -1, 2});
  expect_close(SlerpMerge().merge(slerp_inputs(base, floats({0, 5, 1}), 0)), base);
}

TEST(SlerpMerge, CopiesOfTheBaseReturnIt) {
  const at::Tensor base = floats({0.3f, -1.7f, 2.2f});
  expect_close(SlerpMerge().merge(slerp_inputs(base, base.clone(), 0.37)), base);
}

TEST(SlerpMerge, MissingBaseIsAnErrorNamingTheTensor) {
  MethodInputs inputs = slerp_inputs(floats({1}), floats({2}), 0.5);
  inputs.base.reset();
  const std::string message = error_message([&] { SlerpMerge().merge(inputs); });
  EXPECT_TRUE(contains(message, "model.embed_tokens.weight")) << message;
  EXPECT_TRUE(contains(message, "base")) << message;
}

TEST(SlerpMerge, TwoOtherModelsAreAnError) {
  MethodInputs inputs = slerp_inputs(floats({1}), floats({2}), 0.5);
  inputs.models.push_back(floats({3}));
  inputs.model_names.push_back("third");
  inputs.model_parameters.push_back({});
  const std::string message = error_message([&] { SlerpMerge().merge(inputs); });
  EXPECT_TRUE(contains(message, "got 2")) << message;
}

TEST(SlerpMerge, MissingTIsAnError) {
  MethodInputs inputs = slerp_inputs(floats({1}), floats({2}), 0.5);
  inputs.parameters.clear();
  EXPECT_TRUE(contains(error_message([&] { SlerpMerge().merge(inputs); }), "'t'"));
}

TEST(SlerpMerge, Bf16InputsGiveFp32Results) {
  const at::Tensor merged =
      SlerpMerge().merge(slerp_inputs(floats({1, 0}).to(at::kBFloat16), floats({0, 1}).to(at::kBFloat16), 0.5));
  EXPECT_EQ(merged.scalar_type(), at::kFloat);
  const double s = 1.0 / std::sqrt(2.0);
  expect_close(merged, floats({float(s), float(s)}));
}

// weights 1 and 3: t = 3/4; orthogonal unit vectors: (sin(π/8), sin(3π/8)).
TEST(NuSlerpMerge, WeightsSetTAsTheSecondModelsShare) {
  const at::Tensor merged = NuSlerpMerge().merge(nuslerp_inputs(std::nullopt, floats({1, 0}), floats({0, 1}), 1, 3));
  expect_close(merged, floats({float(std::sin(M_PI / 8)), float(std::sin(3 * M_PI / 8))}));
}

TEST(NuSlerpMerge, WithABaseInterpolatesTaskVectors) {
  const at::Tensor base = floats({10, 10});
  const at::Tensor merged = NuSlerpMerge().merge(nuslerp_inputs(base, floats({11, 10}), floats({10, 11}), 1, 1));
  const double s = 1.0 / std::sqrt(2.0);
  expect_close(merged, floats({float(10 + s), float(10 + s)}), 1e-5);
}

// Rows [1, 0] / [0, 1] and [0, 1] / [1, 0] are orthogonal pairs; columns ([1, 0]ᵀ vs [0, 1]ᵀ) are too. Flattened,
// the two 4-vectors are orthogonal as well, but with norm √2 each; every variant gives (a + b)/√2 here, so the
// distinguishing case uses rows of different norms: row 0 is parallel (lerp), row 1 orthogonal (arc).
TEST(NuSlerpMerge, RowWiseOptionsInterpolateEachVectorOnItsOwn) {
  const at::Tensor a = floats({1, 0, 0, 1}).view({2, 2});
  const at::Tensor b = floats({2, 0, 1, 0}).view({2, 2});
  MethodInputs inputs = nuslerp_inputs(std::nullopt, a, b, 1, 1);
  inputs.parameters = {{"nuslerp_flatten", 0}, {"nuslerp_row_wise", 0}};
  const double s = 1.0 / std::sqrt(2.0);
  // Vectors along the last dimension: row 0 [1,0]→[2,0] parallel: lerp [1.5, 0]; row 1 [0,1]→[1,0]: [s, s].
  expect_close(NuSlerpMerge().merge(inputs), floats({1.5f, 0, float(s), float(s)}).view({2, 2}));
  // row_wise: vectors along dim 0 (columns): column 0 [1,0]→[2,1], column 1 [0,1]→[0,0] (zero: cos 0, θ = π/2).
  inputs.parameters["nuslerp_row_wise"] = 1;
  const at::Tensor merged = NuSlerpMerge().merge(inputs);
  const double cos0 = 2 / std::sqrt(5.0);
  const double theta = std::acos(cos0);
  const double c0 = std::sin(theta / 2) / std::sin(theta);
  // column 0: c0·[1,0] + c0·[2,1]; column 1: sin(π/4)/1·[0,1] + sin(π/4)·0.
  const at::Tensor expected = floats({float(c0 * 3), 0, float(c0 * 1), float(s)}).view({2, 2});
  expect_close(merged, expected, 1e-5);
}

TEST(NuSlerpMerge, CopiesReturnTheCopy) {
  const at::Tensor copy = floats({0.5f, -1.5f, 2.0f, 4.0f}).view({2, 2});
  expect_close(NuSlerpMerge().merge(nuslerp_inputs(std::nullopt, copy, copy.clone(), 2, 5)), copy);
}

TEST(NuSlerpMerge, ThreeModelsAreAnError) {
  MethodInputs inputs = nuslerp_inputs(std::nullopt, floats({1}), floats({2}), 1, 1);
  inputs.models.push_back(floats({3}));
  inputs.model_names.push_back("c");
  inputs.model_parameters.push_back({{"weight", 1}});
  EXPECT_TRUE(contains(error_message([&] { NuSlerpMerge().merge(inputs); }), "model.norm.weight"));
}

}  // namespace
}  // namespace ladle::merge
