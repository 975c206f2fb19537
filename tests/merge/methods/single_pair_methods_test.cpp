// Methods over a base and one other model (nearswap, arcee_fusion) and the one-input passthrough.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "lib/merge/methods/arcee_fusion.h"
#include "lib/merge/methods/nearswap.h"
#include "lib/merge/methods/passthrough.h"
#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::floats;
using ladle::testing::error_message;
using ladle::testing::contains;

MethodInputs pair_inputs(std::optional<at::Tensor> base, std::vector<at::Tensor> models) {
  MethodInputs inputs;
  inputs.tensor_name = "lm_head.weight";
  inputs.base = std::move(base);
  inputs.models = std::move(models);
  for (std::size_t i = 0; i < inputs.models.size(); ++i) {
    inputs.model_names.push_back("m" + std::to_string(i));
    inputs.model_parameters.push_back({});
  }
  return inputs;
}

// t = 0.5, |θ₀ − θ₁| = 0.25, 1, 4: w = clamp(2) = 1, 0.5, 0.125.
TEST(NearSwapMerge, TakesTheOtherValueInProportionToItsCloseness) {
  MethodInputs inputs = pair_inputs(floats({0, 0, 0}), {floats({0.25f, 1, -4})});
  inputs.parameters["t"] = 0.5;
  EXPECT_TRUE(at::allclose(NearSwapMerge().merge(inputs), floats({0.25f, 0.5f, -0.5f})));
}

TEST(NearSwapMerge, IdenticalModelsReturnTheBase) {
  MethodInputs inputs = pair_inputs(floats({1, 2}), {floats({1, 2})});
  inputs.parameters["t"] = 0.1;
  EXPECT_TRUE(at::equal(NearSwapMerge().merge(inputs), floats({1, 2})));
}

TEST(NearSwapMerge, TwoOtherModelsAreAnError) {
  MethodInputs inputs = pair_inputs(floats({1}), {floats({1}), floats({2})});
  inputs.parameters["t"] = 0.1;
  EXPECT_TRUE(contains(error_message([&] { NearSwapMerge().merge(inputs); }), "lm_head.weight"));
}

// One row, base 0 (uniform q), δ = [1, 2, 3, 4, 100]: the importance is |δ| times one positive KL, so its
// quantiles are those of |δ| times that KL: median 3, Q1 2, Q3 4 → threshold 3 + 1.5·2 = 6: only 100 survives.
TEST(ArceeFusionMerge, KeepsOnlyChangesAboveMedianPlusOneAndAHalfIqr) {
  const at::Tensor merged = ArceeFusionMerge().merge(pair_inputs(at::zeros({5}), {floats({1, 2, 3, 4, 100})}));
  EXPECT_TRUE(at::equal(merged, floats({0, 0, 0, 0, 100})));
}

TEST(ArceeFusionMerge, IdenticalModelsReturnTheBase) {
  const at::Tensor base = floats({1, 2, 3, 4}).view({2, 2});
  EXPECT_TRUE(at::equal(ArceeFusionMerge().merge(pair_inputs(base, {base.clone()})), base));
}

TEST(ArceeFusionMerge, TinyTensorsDoNotFail) {
  EXPECT_EQ(ArceeFusionMerge().merge(pair_inputs(floats({1}), {floats({2})})).numel(), 1);
  const at::Tensor scalar_base = at::scalar_tensor(1, at::kFloat);
  const at::Tensor scalar_other = at::scalar_tensor(2, at::kFloat);
  EXPECT_EQ(ArceeFusionMerge().merge(pair_inputs(scalar_base, {scalar_other})).dim(), 0);
  EXPECT_EQ(ArceeFusionMerge().merge(pair_inputs(at::zeros({0}), {at::zeros({0})})).numel(), 0);
}

TEST(PassthroughMerge, ReturnsTheOneInputScaled) {
  MethodInputs inputs = pair_inputs(std::nullopt, {floats({1, -2})});
  EXPECT_TRUE(at::equal(PassthroughMerge().merge(inputs), floats({1, -2})));
  inputs.parameters["scale"] = 0.5;
  EXPECT_TRUE(at::equal(PassthroughMerge().merge(inputs), floats({0.5f, -1})));
}

// scale is per model (mergekit's tensor parameter): the model's own value wins over the method-wide one.
TEST(PassthroughMerge, ScalesByTheInputModelsOwnScale) {
  MethodInputs inputs = pair_inputs(std::nullopt, {floats({1, -2})});
  inputs.parameters["scale"] = 0.5;
  inputs.model_parameters[0]["scale"] = -3;
  EXPECT_TRUE(at::equal(PassthroughMerge().merge(inputs), floats({-3, 6})));
}

TEST(PassthroughMerge, BaseAloneIsScaledByTheBasesOwnScale) {
  MethodInputs inputs = pair_inputs(floats({4, 0.5f}), {});
  EXPECT_TRUE(at::equal(PassthroughMerge().merge(inputs), floats({4, 0.5f})));
  inputs.base_parameters["scale"] = 0.25;
  EXPECT_TRUE(at::equal(PassthroughMerge().merge(inputs), floats({1, 0.125f})));
}

TEST(PassthroughMerge, TwoInputsAreAnError) {
  const std::string message =
      error_message([&] { PassthroughMerge().merge(pair_inputs(floats({1}), {floats({2})})); });
  EXPECT_TRUE(contains(message, "exactly one")) << message;
  EXPECT_TRUE(contains(message, "lm_head.weight")) << message;
}

TEST(PassthroughMerge, Bf16InputIsReturnedInTheWorkingDtype) {
  EXPECT_EQ(PassthroughMerge().merge(pair_inputs(std::nullopt, {floats({1}).to(at::kBFloat16)})).scalar_type(),
            at::kFloat);
}

}  // namespace
}  // namespace ladle::merge
