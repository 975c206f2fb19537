// fisher: Fisher-weighted averaging with diagonal Fishers, a floor and whole-model normalisation.
#include "lib/merge/methods/fisher.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::floats;

MethodInputs fisher_inputs(std::vector<at::Tensor> models, std::vector<at::Tensor> fishers) {
  MethodInputs inputs;
  inputs.tensor_name = "classifier.weight";
  inputs.models = std::move(models);
  inputs.model_fishers = std::move(fishers);
  for (std::size_t i = 0; i < inputs.models.size(); ++i) {
    inputs.model_names.push_back("task" + std::to_string(i));
    inputs.model_parameters.push_back({});
  }
  inputs.parameters["normalize_fishers"] = 0;
  return inputs;
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tolerance = 1e-6) {
  EXPECT_TRUE(at::allclose(actual, expected, 0, tolerance)) << actual << "\nexpected\n" << expected;
}

// Entry 0: equal Fishers, plain mean 2. Entry 1: Fisher 0 (floored to 1e-6) against 1: (1e-6·1 + 3)/(1 + 1e-6).
TEST(FisherMerge, WeighsEachEntryByItsFisher) {
  const at::Tensor merged =
      FisherMerge().merge(fisher_inputs({floats({1, 1}), floats({3, 3})}, {floats({1, 0}), floats({1, 1})}));
  expect_close(merged, floats({2, float((1e-6 + 3) / (1 + 1e-6))}));
}

TEST(FisherMerge, ModelWeightsScaleTheFishers) {
  MethodInputs inputs = fisher_inputs({floats({0}), floats({4})}, {floats({1}), floats({1})});
  inputs.model_parameters[1]["weight"] = 3;
  expect_close(FisherMerge().merge(inputs), floats({3}));
}

// ‖F1‖ = 1, ‖F2‖ = √2: F̃1 = [1, 1e-6 (floor)], F̃2 = [1/√2, 1/√2].
TEST(FisherMerge, NormalizesEachFisherByItsWholeModelNorm) {
  MethodInputs inputs = fisher_inputs({floats({1, 1}), floats({3, 3})}, {floats({1, 0}), floats({1, 1})});
  inputs.parameters["normalize_fishers"] = 1;
  inputs.model_fisher_norms = std::vector<double>{1.0, std::sqrt(2.0)};
  const double s = 1 / std::sqrt(2.0);
  expect_close(FisherMerge().merge(inputs),
               floats({float((1 + 3 * s) / (1 + s)), float((1e-6 + 3 * s) / (1e-6 + s))}));
}

TEST(FisherMerge, AllZeroFishersFallBackToTheMean) {
  expect_close(FisherMerge().merge(fisher_inputs({floats({1}), floats({3})}, {floats({0}), floats({0})})),
               floats({2}));
}

TEST(FisherMerge, CopiesReturnTheCopy) {
  const at::Tensor copy = floats({0.5f, -1.25f});
  expect_close(FisherMerge().merge(fisher_inputs({copy, copy}, {floats({0.3f, 2}), floats({5, 0})})), copy);
}

TEST(FisherMerge, MissingFishersAreAnErrorNamingTheTensor) {
  MethodInputs inputs = fisher_inputs({floats({1}), floats({3})}, {floats({1})});
  try {
    FisherMerge().merge(inputs);
    ADD_FAILURE() << "expected ladle::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("classifier.weight"), std::string::npos) << error.what();
  }
}

TEST(FisherMerge, NormalizationWithoutNormsIsAnError) {
  MethodInputs inputs = fisher_inputs({floats({1}), floats({3})}, {floats({1}), floats({1})});
  inputs.parameters["normalize_fishers"] = 1;
  EXPECT_THROW(FisherMerge().merge(inputs), Error);
}

TEST(FisherMerge, AsksTheExecutorForFishers) { EXPECT_TRUE(FisherMerge().needs_model_fishers({})); }

}  // namespace
}  // namespace ladle::merge
