// linear: weighted average of models (model soups, LAWA), with a base as one more weighted input.
#include "lib/merge/methods/linear.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "lib/util/error.h"
#include "lib/weights/tensor_ops.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::floats;
using ladle::testing::error_message;
using ladle::testing::contains;

MethodInputs weighted(std::vector<at::Tensor> models, std::vector<double> weights) {
  MethodInputs inputs;
  inputs.tensor_name = "model.layers.0.mlp.up_proj.weight";
  inputs.models = std::move(models);
  for (std::size_t i = 0; i < inputs.models.size(); ++i) {
    inputs.model_names.push_back("model_" + std::to_string(i));
    inputs.model_parameters.push_back({{"weight", weights[i]}});
  }
  return inputs;
}

TEST(LinearMerge, NormalizedWeightedMeanMatchesHandComputation) {
  // (1·[1, 2] + 3·[5, 10]) / 4 = [4, 8]
  const at::Tensor merged = LinearMerge().merge(weighted({floats({1, 2}), floats({5, 10})}, {1, 3}));
  EXPECT_TRUE(at::equal(merged, floats({4, 8})));
}

TEST(LinearMerge, WithoutNormalizeReturnsWeightedSum) {
  MethodInputs inputs = weighted({floats({1, 2}), floats({5, 10})}, {1, 3});
  inputs.parameters["normalize"] = 0;
  EXPECT_TRUE(at::equal(LinearMerge().merge(inputs), floats({16, 32})));
}

TEST(LinearMerge, UniformSoupOfCopiesReturnsTheCopy) {
  const at::Tensor copy = floats({0.1f, -2.5f, 3.75f});
  EXPECT_TRUE(at::equal(LinearMerge().merge(weighted({copy, copy, copy}, {1, 1, 1})), copy));
}

TEST(LinearMerge, BaseIsOneMoreInputWithItsOwnWeight) {
  MethodInputs inputs = weighted({floats({4, 4})}, {1});
  inputs.base = floats({0, 8});
  inputs.base_parameters["weight"] = 3;
  // (3·[0, 8] + 1·[4, 4]) / 4 = [1, 7]
  EXPECT_TRUE(at::equal(LinearMerge().merge(inputs), floats({1, 7})));
}

TEST(LinearMerge, BaseWithoutWeightIsAnError) {
  MethodInputs inputs = weighted({floats({4, 4})}, {1});
  inputs.base = floats({0, 8});
  const std::string message = error_message([&] { LinearMerge().merge(inputs); });
  EXPECT_TRUE(contains(message, "model.layers.0.mlp.up_proj.weight")) << message;
  EXPECT_TRUE(contains(message, "weight")) << message;
}

TEST(LinearMerge, WeightsSummingToZeroAreAnErrorWhenNormalizing) {
  const std::string message =
      error_message([&] { LinearMerge().merge(weighted({floats({1}), floats({2})}, {1, -1})); });
  EXPECT_TRUE(contains(message, "sum to 0")) << message;
}

TEST(LinearMerge, MissingWeightNamesTheModel) {
  MethodInputs inputs = weighted({floats({1}), floats({2})}, {1, 1});
  inputs.model_parameters[1].clear();
  const std::string message = error_message([&] { LinearMerge().merge(inputs); });
  EXPECT_TRUE(contains(message, "model_1")) << message;
  EXPECT_TRUE(contains(message, "'weight'")) << message;
}

TEST(LinearMerge, ShapeMismatchNamesTensorAndModel) {
  const std::string message =
      error_message([&] { LinearMerge().merge(weighted({floats({1, 2}), floats({1, 2, 3})}, {1, 1})); });
  EXPECT_TRUE(contains(message, "model.layers.0.mlp.up_proj.weight")) << message;
  EXPECT_TRUE(contains(message, "model_1")) << message;
  EXPECT_TRUE(contains(message, "[3]")) << message;
}

// 256 and 257 average to 256.5, which bf16 cannot hold (its spacing at 256 is 2): the math runs in fp32.
TEST(LinearMerge, Bf16InputsAreAveragedInTheFp32WorkingDtype) {
  const at::Tensor merged = LinearMerge().merge(weighted(
      {at::full({2}, 256.0, at::kBFloat16), at::full({2}, 257.0, at::kFloat).to(at::kBFloat16)}, {1, 1}));
  EXPECT_EQ(merged.scalar_type(), at::kFloat);
  // bf16(257) rounds to 256 (ties to even), so the exact fp32 mean of the stored values is 256.
  EXPECT_TRUE(at::equal(merged, at::full({2}, 256.0f)));
  const at::Tensor half = LinearMerge().merge(
      weighted({at::full({2}, 256.0, at::kBFloat16), at::full({2}, 258.0, at::kBFloat16)}, {1, 1}));
  EXPECT_TRUE(at::equal(half, at::full({2}, 257.0f)));
}

// The fused CPU pass against the tensor code it replaces (weighted_sum / weighted_mean over the inputs converted
// to the working dtype, then rounded to it): equal bit for bit for every working dtype, inputs stored in a dtype
// that widens to it, narrows to it or is it, 3 blocks and a tail of entries, normalized and not.
TEST(LinearMerge, FusedPassEqualsTheTensorExpressionBitForBit) {
  at::manual_seed(3);
  const std::vector<double> weights = {0.3, -1.25, 2.0};
  for (const at::ScalarType working : {at::kFloat, at::kDouble, at::kBFloat16}) {
    for (const bool normalize : {true, false}) {
      std::vector<at::Tensor> models = {at::randn({3, 4099}), at::randn({3, 4099}).to(at::kBFloat16),
                                        at::randn({3, 4099}, at::kDouble)};
      MethodInputs inputs = weighted(models, weights);
      inputs.working_dtype = working;
      inputs.parameters["normalize"] = normalize ? 1 : 0;
      std::vector<at::Tensor> converted;
      for (const at::Tensor& model : models) converted.push_back(model.to(working));
      const at::Tensor expected =
          (normalize ? weighted_mean(converted, weights) : weighted_sum(converted, weights)).to(working);
      const at::Tensor merged = LinearMerge().merge(inputs);
      EXPECT_EQ(merged.scalar_type(), working);
      EXPECT_TRUE(at::equal(merged, expected)) << c10::toString(working) << (normalize ? " normalized" : " sum");
    }
  }
}

}  // namespace
}  // namespace ladle::merge
