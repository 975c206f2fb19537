// The generalized task arithmetic family: task_arithmetic, ties, dare_*, breadcrumbs*, della*.
#include "lib/merge/methods/generalized_task_arithmetic.h"

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

GeneralizedTaskArithmeticMerge method(const std::string& name) {
  for (const TaskArithmeticVariant& variant : task_arithmetic_variants()) {
    if (variant.name == name) return GeneralizedTaskArithmeticMerge(variant);
  }
  ADD_FAILURE() << "no variant " << name;
  return GeneralizedTaskArithmeticMerge(task_arithmetic_variants().front());
}

// Models given as base + task vectors, every model with weight 1 and the given per-model extras.
MethodInputs task_inputs(const at::Tensor& base, const std::vector<at::Tensor>& vectors,
                         const std::map<std::string, double>& per_model = {}) {
  MethodInputs inputs;
  inputs.tensor_name = "model.layers.2.mlp.down_proj.weight";
  inputs.base = base;
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    inputs.models.push_back(base + vectors[i]);
    inputs.model_names.push_back("ft" + std::to_string(i));
    std::map<std::string, double> parameters = per_model;
    parameters.emplace("weight", 1.0);
    inputs.model_parameters.push_back(parameters);
  }
  return inputs;
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tolerance = 1e-6) {
  EXPECT_TRUE(at::allclose(actual, expected, 0, tolerance)) << actual << "\nexpected\n" << expected;
}

TEST(TaskArithmetic, AddsTheLambdaScaledWeightedSumOfTaskVectors) {
  MethodInputs inputs = task_inputs(floats({1, 1}), {floats({1, 0}), floats({0, 2})});
  inputs.model_parameters[1]["weight"] = 0.5;
  inputs.parameters["lambda"] = 2;
  // 1 + 2·(1·[1, 0] + 0.5·[0, 2]) = [3, 3]
  expect_close(method("task_arithmetic").merge(inputs), floats({3, 3}));
}

TEST(TaskArithmetic, LambdaZeroReturnsTheBase) {
  const at::Tensor base = floats({0.5f, -2, 7});
  MethodInputs inputs = task_inputs(base, {floats({1, 2, 3}), floats({-4, 5, 6})});
  inputs.parameters["lambda"] = 0;
  EXPECT_TRUE(at::equal(method("task_arithmetic").merge(inputs), base));
}

TEST(TaskArithmetic, NormalizeIsOffByDefaultAsInMergekit) {
  // Without normalize two unit task vectors add up: 0 + [1] + [1] = [2].
  expect_close(method("task_arithmetic").merge(task_inputs(floats({0}), {floats({1}), floats({1})})), floats({2}));
}

TEST(TaskArithmetic, BaseAloneIsReturnedUnchanged) {
  const at::Tensor base = floats({1, 2});
  EXPECT_TRUE(at::equal(method("task_arithmetic").merge(task_inputs(base, {})), base));
}

TEST(TaskArithmetic, MissingBaseIsAnErrorNamingTheTensor) {
  MethodInputs inputs = task_inputs(floats({0}), {floats({1})});
  inputs.base.reset();
  const std::string message = error_message([&] { method("task_arithmetic").merge(inputs); });
  EXPECT_TRUE(contains(message, "model.layers.2.mlp.down_proj.weight")) << message;
  EXPECT_TRUE(contains(message, "base")) << message;
}

TEST(TaskArithmetic, ShapeMismatchNamesTheModel) {
  MethodInputs inputs = task_inputs(floats({0, 0}), {floats({1, 1})});
  inputs.models[0] = floats({1, 2, 3});
  const std::string message = error_message([&] { method("task_arithmetic").merge(inputs); });
  EXPECT_TRUE(contains(message, "ft0")) << message;
  EXPECT_TRUE(contains(message, "model.layers.2.mlp.down_proj.weight")) << message;
}

// Yadav et al.'s three steps by hand, density 0.5 (two of four entries kept per task vector):
//   τ1 = [ 1, -2,  3,  0.5] → trim → [ 0, -2,  3, 0]
//   τ2 = [-4,  1,  0.1, 2 ] → trim → [-4,  0,  0, 2]
//   τ3 = [ 2, -1, -3, -0.2] → trim → [ 2,  0, -3, 0]
//   elect: sign of the sum [-2, -2, 0, 2] → [-, -, + (a zero sum goes to +), +]
//   disjoint mean over agreeing entries: [-4/1, -2/1, 3/1, 2/1]
TEST(TiesMerge, TrimElectAndDisjointMeanMatchHandComputation) {
  const at::Tensor base = floats({10, 10, 10, 10});
  const at::Tensor merged =
      method("ties").merge(task_inputs(base, {floats({1, -2, 3, 0.5f}), floats({-4, 1, 0.1f, 2}),
                                              floats({2, -1, -3, -0.2f})},
                                       {{"density", 0.5}}));
  expect_close(merged, floats({6, 8, 13, 12}), 1e-5);
}

TEST(TiesMerge, MajoritySignDropsMinorityUpdates) {
  // Weighted sum 2 + 2 − 3 = 1 > 0: the negative update is dropped, the positive ones averaged.
  const at::Tensor merged = method("ties").merge(task_inputs(floats({0}), {floats({2}), floats({2}), floats({-3})}));
  expect_close(merged, floats({2}));
}

TEST(TiesMerge, DivisorIsTheWeightOfAgreeingModels) {
  MethodInputs inputs = task_inputs(floats({0, 0}), {floats({1, 1}), floats({3, -1})});
  inputs.model_parameters[1]["weight"] = 3;
  // entry 0: (1·1 + 3·3)/(1 + 3) = 2.5; entry 1: sum 1 − 3 < 0, only model 1 agrees: 3·(−1)/3 = −1.
  expect_close(method("ties").merge(inputs), floats({2.5f, -1}));
}

TEST(TiesMerge, CopiesOfOneModelReturnIt) {
  const at::Tensor base = floats({1, 2, 3, 4});
  const at::Tensor tau = floats({0.5f, -0.25f, 0, 2});
  MethodInputs inputs = task_inputs(base, {tau, tau, tau});
  expect_close(method("ties").merge(inputs), base + tau);
}

TEST(TiesMerge, EntriesNoModelChangedStayAtTheBase) {
  expect_close(method("ties").merge(task_inputs(floats({5, 6}), {floats({0, 1}), floats({0, 1})})), floats({5, 7}));
}

TEST(TiesMerge, TinyTensorsKeepAtLeastOneEntryInsteadOfCrashing) {
  // density 0.2 of 1 entry: ⌊0.2⌋ = 0, mergekit's assertion; we keep the one entry.
  expect_close(method("ties").merge(task_inputs(floats({1}), {floats({2})}, {{"density", 0.2}})), floats({3}));
  const at::Tensor empty = at::zeros({0, 4});
  EXPECT_EQ(method("ties").merge(task_inputs(empty, {empty, empty}, {{"density", 0.2}})).numel(), 0);
}

TEST(TiesMerge, GlobalTrimUsesTheWholeModelThresholds) {
  MethodInputs inputs = task_inputs(floats({0, 0, 0}), {floats({1, 2, 3}), floats({-1, -2, -3})});
  inputs.parameters["global_trim"] = 1;
  inputs.global_magnitude_thresholds = std::vector<double>{2.0, 3.0};
  // τ̂1 = [0, 2, 3], τ̂2 = [0, 0, -3]; sums [0, 2, 0] → signs [+, +, +]; agreeing means [0, 2, 3].
  expect_close(method("ties").merge(inputs), floats({0, 2, 3}));
}

TEST(TiesMerge, GlobalTrimWithoutThresholdsIsAnError) {
  MethodInputs inputs = task_inputs(floats({0}), {floats({1})});
  inputs.parameters["global_trim"] = 1;
  EXPECT_TRUE(contains(error_message([&] { method("ties").merge(inputs); }), "threshold"));
}

TEST(TiesMerge, AsksForGlobalThresholdsOnlyWithGlobalTrim) {
  EXPECT_FALSE(method("ties").needs_global_magnitude_thresholds({}));
  EXPECT_TRUE(method("ties").needs_global_magnitude_thresholds({{"global_trim", 1}}));
  EXPECT_FALSE(method("dare_ties").needs_global_magnitude_thresholds({{"global_trim", 1}}));
}

// 3 + 4 in bf16 is exact, but the mean 0.5·(3 + 4) would not be bf16-representable in general; the point here
// is the dtype of the result: the working dtype, not a float mask's or the inputs'.
TEST(TiesMerge, Bf16InputsGiveTheWorkingDtype) {
  MethodInputs inputs = task_inputs(floats({1, 1}), {floats({3, 0}), floats({4, 0})}, {{"density", 0.5}});
  inputs.base = inputs.base->to(at::kBFloat16);
  for (at::Tensor& model : inputs.models) model = model.to(at::kBFloat16);
  const at::Tensor merged = method("ties").merge(inputs);
  EXPECT_EQ(merged.scalar_type(), at::kFloat);
  expect_close(merged, floats({4.5f, 1}));
  inputs.working_dtype = at::kDouble;
  EXPECT_EQ(method("ties").merge(inputs).scalar_type(), at::kDouble);
}

TEST(DareMerge, DensityOneIsTheIdentity) {
  const at::Tensor base = floats({1, 2, 3});
  const at::Tensor tau = floats({0.5f, -1, 0.25f});
  EXPECT_TRUE(at::equal(method("dare_linear").merge(task_inputs(base, {tau}, {{"density", 1.0}})), base + tau));
  expect_close(method("dare_ties").merge(task_inputs(base, {tau, tau}, {{"density", 1.0}})), base + 2 * tau);
}

TEST(DareMerge, NormalizedCopiesAtDensityOneReturnTheCopy) {
  const at::Tensor base = floats({1, 2, 3});
  const at::Tensor tau = floats({0.5f, -1, 0.25f});
  MethodInputs inputs = task_inputs(base, {tau, tau, tau}, {{"density", 1.0}});
  inputs.parameters["normalize"] = 1;
  expect_close(method("dare_ties").merge(inputs), base + tau);
  expect_close(method("dare_linear").merge(inputs), base + tau);
}

TEST(DareMerge, SameSeedDrawsTheSameMask) {
  MethodInputs inputs = task_inputs(at::zeros({1000}), {at::ones({1000})}, {{"density", 0.5}});
  inputs.seed = 42;
  EXPECT_TRUE(at::equal(method("dare_linear").merge(inputs), method("dare_linear").merge(inputs)));
}

TEST(DareMerge, DifferentSeedsDrawDifferentMasks) {
  MethodInputs inputs = task_inputs(at::zeros({1000}), {at::ones({1000})}, {{"density", 0.5}});
  inputs.seed = 1;
  const at::Tensor first = method("dare_linear").merge(inputs);
  inputs.seed = 2;
  EXPECT_FALSE(at::equal(first, method("dare_linear").merge(inputs)));
}

TEST(DareMerge, EachModelDrawsItsOwnMask) {
  MethodInputs inputs = task_inputs(at::zeros({1000}), {at::ones({1000}), at::ones({1000})}, {{"density", 0.5}});
  inputs.parameters["rescale"] = 0;
  inputs.model_parameters[1]["weight"] = 2;
  // Entries are 0, 1 (model 0 only), 2 (model 1 only) or 3 (both): all four occur with independent masks.
  const at::Tensor merged = method("dare_linear").merge(inputs);
  for (float value : {0.0f, 1.0f, 2.0f, 3.0f}) EXPECT_TRUE((merged == value).any().item<bool>()) << value;
}

TEST(DareMerge, KeepsAboutDensityOfTheEntries) {
  MethodInputs inputs = task_inputs(at::zeros({100000}), {at::ones({100000})}, {{"density", 0.3}});
  inputs.parameters["rescale"] = 0;
  const double kept = (method("dare_linear").merge(inputs) != 0).sum().item<double>() / 100000;
  EXPECT_NEAR(kept, 0.3, 0.01);  // binomial standard deviation ≈ 0.0015
}

// mergekit's `rescale` (the default for dare_*): the kept entries are scaled so that the L1 norm is unchanged.
TEST(DareMerge, DefaultRescaleKeepsTheL1NormOfTheTaskVector) {
  const at::Tensor tau = at::linspace(-2, 3, 1001);
  MethodInputs inputs = task_inputs(at::zeros({1001}), {tau}, {{"density", 0.4}});
  const at::Tensor merged = method("dare_linear").merge(inputs);
  EXPECT_NEAR(merged.abs().sum(at::kDouble).item<double>(), tau.abs().sum(at::kDouble).item<double>(), 1e-3);
}

// The paper's rescale (rescale_by_probability): each kept entry is divided by the density, so E[τ̂] = τ.
TEST(DareMerge, RescaleByProbabilityDividesKeptEntriesByTheDensity) {
  MethodInputs inputs = task_inputs(at::zeros({200000}), {at::full({200000}, 2.0)}, {{"density", 0.25}});
  inputs.parameters["rescale_by_probability"] = 1;
  const at::Tensor merged = method("dare_linear").merge(inputs);
  EXPECT_TRUE(((merged == 0) | (merged == 8)).all().item<bool>());
  EXPECT_NEAR(merged.mean().item<double>(), 2.0, 0.02);  // standard error ≈ 0.0077
}

TEST(DareMerge, DensityZeroDropsEverything) {
  const at::Tensor base = floats({1, 2});
  EXPECT_TRUE(at::equal(method("dare_linear").merge(task_inputs(base, {floats({3, 4})}, {{"density", 0.0}})), base));
}

// γ = 0.34, density 0.67 on 3 entries: drop ⌊1.02⌋ = 1 largest, keep ⌊2.01⌋ = 2 below it.
TEST(BreadcrumbsMerge, DropsTheLargestOutliersAndKeepsTheNextDensityFraction) {
  const at::Tensor merged = method("breadcrumbs").merge(
      task_inputs(floats({0, 0, 0}), {floats({1, -3, 2})}, {{"density", 0.67}, {"gamma", 0.34}}));
  expect_close(merged, floats({1, 0, 2}));
}

// The default γ = 0.01 on 3 entries: ⌊0.03⌋ = 0 outliers. mergekit's slice sorted[n_bot:-0] is empty and zeroes the
// tensor; we keep the ⌊1.5⌋ = 1 largest entry.
TEST(BreadcrumbsMerge, TensorWithFewerThanOneOverGammaEntriesIsNotZeroed) {
  const at::Tensor merged =
      method("breadcrumbs").merge(task_inputs(floats({0, 0, 0}), {floats({1, -3, 2})}, {{"density", 0.5}}));
  expect_close(merged, floats({0, -3, 0}));
}

TEST(BreadcrumbsMerge, DensityOneKeepsEverythingAsInMergekit) {
  expect_close(method("breadcrumbs").merge(task_inputs(floats({0, 0}), {floats({1, 100})})), floats({1, 100}));
}

TEST(BreadcrumbsTiesMerge, TrimsThenElectsSigns) {
  // τ1 = [1, -3, 2] → keep the middle |2| and |1| (density 0.67, γ 0.34) → [1, 0, 2]
  // τ2 = [-1, 5, -4] → drop |5|, keep |4| and |1| → [-1, 0, -4]
  // sums [0, 0, -2] → signs [+, +, -]; agreeing: [1, 0 (none), -4]; normalize is off by default.
  const at::Tensor merged = method("breadcrumbs_ties").merge(task_inputs(
      floats({0, 0, 0}), {floats({1, -3, 2}), floats({-1, 5, -4})}, {{"density", 0.67}, {"gamma", 0.34}}));
  expect_close(merged, floats({1, 0, -4}));
}

TEST(DellaMerge, CopiesOfTheBaseReturnTheBase) {
  const at::Tensor base = floats({1, 2, 3, 4});
  const at::Tensor merged = method("della").merge(task_inputs(base, {at::zeros({4}), at::zeros({4})},
                                                              {{"density", 0.5}, {"epsilon", 0.1}}));
  EXPECT_TRUE(at::equal(merged, base));
}

TEST(DellaMerge, DensityPlusEpsilonOutsideTheUnitIntervalIsAnErrorNamingTheModel) {
  const std::string message = error_message([&] {
    method("della").merge(task_inputs(floats({0, 0}), {floats({1, 2})}, {{"density", 0.9}, {"epsilon", 0.15}}));
  });
  EXPECT_TRUE(contains(message, "ft0")) << message;
  EXPECT_TRUE(contains(message, "epsilon")) << message;
}

TEST(DellaMerge, SeededMasksAreReproducible) {
  MethodInputs inputs = task_inputs(at::zeros({8, 64}), {at::randn({8, 64}), at::randn({8, 64})},
                                    {{"density", 0.4}, {"epsilon", 0.2}});
  inputs.seed = 7;
  EXPECT_TRUE(at::equal(method("della_linear").merge(inputs), method("della_linear").merge(inputs)));
  const at::Tensor first = method("della_linear").merge(inputs);
  inputs.seed = 8;
  EXPECT_FALSE(at::equal(first, method("della_linear").merge(inputs)));
}

TEST(DellaMerge, OneEntryTensorsDoNotFail) {
  EXPECT_EQ(method("della").merge(task_inputs(floats({1}), {floats({2})}, {{"density", 0.5}})).numel(), 1);
  const at::Tensor scalar_base = at::scalar_tensor(1, at::kFloat);
  const at::Tensor scalar_tau = at::scalar_tensor(2, at::kFloat);
  EXPECT_EQ(method("della").merge(task_inputs(scalar_base, {scalar_tau}, {{"density", 0.5}})).dim(), 0);
}

TEST(GeneralizedTaskArithmetic, DefaultsFollowMergekitsRegistry) {
  const auto defaults = [](const std::string& name) {
    std::map<std::string, double> values;
    for (const ParameterSpec& spec : method(name).parameters()) {
      if (spec.default_value) values[spec.name] = *spec.default_value;
    }
    return values;
  };
  EXPECT_EQ(defaults("task_arithmetic").at("normalize"), 0);
  EXPECT_EQ(defaults("ties").at("normalize"), 1);
  EXPECT_EQ(defaults("ties").at("rescale"), 0);
  EXPECT_EQ(defaults("dare_ties").at("rescale"), 1);
  EXPECT_EQ(defaults("dare_ties").at("normalize"), 0);
  EXPECT_EQ(defaults("della").at("normalize"), 1);
  EXPECT_EQ(defaults("della").at("epsilon"), 0.15);
  EXPECT_EQ(defaults("breadcrumbs").at("gamma"), 0.01);
  EXPECT_EQ(defaults("ties").at("lambda"), 1);
  EXPECT_EQ(defaults("ties").at("density"), 1);
}

}  // namespace
}  // namespace ladle::merge
