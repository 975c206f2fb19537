// model_stock: interpolation between the average of the fine-tunes and the base by the ratio of eq. 6.
#include "lib/merge/methods/model_stock.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::floats;

MethodInputs stock_inputs(const at::Tensor& base, std::vector<at::Tensor> models) {
  MethodInputs inputs;
  inputs.tensor_name = "model.layers.5.self_attn.o_proj.weight";
  inputs.base = base;
  inputs.models = std::move(models);
  for (std::size_t i = 0; i < inputs.models.size(); ++i) {
    inputs.model_names.push_back("ft" + std::to_string(i));
    inputs.model_parameters.push_back({});
  }
  return inputs;
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tolerance = 1e-5) {
  EXPECT_TRUE(at::allclose(actual, expected, 0, tolerance)) << actual << "\nexpected\n" << expected;
}

double ratio(double cosine, std::int64_t models) {
  return model_stock_ratio(at::scalar_tensor(cosine, at::kDouble), models).item<double>();
}

TEST(ModelStockRatio, MatchesTheClosedFormForKnownCosines) {
  EXPECT_DOUBLE_EQ(ratio(0.5, 2), 2 * 0.5 / 1.5);        // 2/3
  EXPECT_DOUBLE_EQ(ratio(0.25, 3), 3 * 0.25 / 1.5);      // 1/2
  EXPECT_DOUBLE_EQ(ratio(1.0, 5), 1.0);                  // identical directions: the average
  EXPECT_DOUBLE_EQ(ratio(0.0, 4), 0.0);                  // orthogonal task vectors: the base
}

TEST(ModelStockRatio, IsZeroWhereTheDenominatorVanishes) {
  EXPECT_EQ(ratio(-1.0, 2), 0.0);  // 1 + (2 − 1)·(−1) = 0
}

// τ1 = (1, 0), τ2 = (1, 1): cos = 1/√2, t = 2c/(1 + c); the average task vector is (1, 0.5).
TEST(ModelStockMerge, InterpolatesTowardTheAverageByTheRatio) {
  const at::Tensor base = floats({1, 1});
  const double c = 1 / std::sqrt(2.0);
  const double t = 2 * c / (1 + c);
  const at::Tensor merged = ModelStockMerge().merge(stock_inputs(base, {floats({2, 1}), floats({2, 2})}));
  expect_close(merged, floats({float(1 + t), float(1 + 0.5 * t)}));
}

TEST(ModelStockMerge, OrthogonalTaskVectorsReturnTheBase) {
  const at::Tensor base = floats({1, 1});
  expect_close(ModelStockMerge().merge(stock_inputs(base, {floats({2, 1}), floats({1, 2})})), base);
}

TEST(ModelStockMerge, CopiesOfOneModelReturnIt) {
  const at::Tensor model = floats({0.5f, 2, -1});
  expect_close(ModelStockMerge().merge(stock_inputs(floats({0, 0, 0}), {model, model, model})), model);
}

TEST(ModelStockMerge, CopiesOfTheBaseReturnIt) {
  const at::Tensor base = floats({0.5f, 2, -1});
  expect_close(ModelStockMerge().merge(stock_inputs(base, {base, base})), base);
}

// Row 0 has parallel task vectors (t = 1), row 1 orthogonal ones (t = 0).
TEST(ModelStockMerge, FilterWiseComputesOneRatioPerRow) {
  MethodInputs inputs = stock_inputs(at::zeros({2, 2}), {floats({1, 0, 1, 0}).view({2, 2}),
                                                         floats({3, 0, 0, 1}).view({2, 2})});
  inputs.parameters["filter_wise"] = 1;
  expect_close(ModelStockMerge().merge(inputs), floats({2, 0, 0, 0}).view({2, 2}));
}

TEST(ModelStockMerge, OneModelBesidesTheBaseIsAnError) {
  MethodInputs inputs = stock_inputs(floats({0}), {floats({1})});
  try {
    ModelStockMerge().merge(inputs);
    ADD_FAILURE() << "expected ladle::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("model.layers.5.self_attn.o_proj.weight"), std::string::npos);
  }
}

}  // namespace
}  // namespace ladle::merge
