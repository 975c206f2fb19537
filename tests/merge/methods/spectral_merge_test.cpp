// The SVD-based methods tsv_m, iso_c and iso_cts: against numpy's reference from the papers' equations
// (tests/tools/merge_methods_reference.py) on square, non-square, rank-deficient and 1-D tensors with 1 to 4 tasks,
// and against closed forms.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "lib/merge/merge_method_registry.h"
#include "lib/merge/methods/isotropic.h"
#include "lib/merge/methods/task_singular_vectors.h"
#include "tests/support/merge_method_reference.h"
#include "tests/support/method_inputs.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::error_message;
using ladle::testing::expect_same_update;
using ladle::testing::random_task_inputs;
using ladle::testing::reference_merge;
using ladle::testing::task_inputs;

struct ReferenceCase {
  std::vector<std::int64_t> shape;
  std::size_t tasks;
  std::int64_t rank;  // of each task vector; 0: full
};

const std::vector<ReferenceCase> kCases = {
    {{16, 12}, 3, 0},  // tall, 4 components per task
    {{7, 20}, 2, 0},   // wide
    {{10, 6}, 4, 0},   // one component per task
    {{12, 10}, 3, 2},  // each task of rank 2 < ⌊10/3⌋ = 3: components past the rank are left out
    {{9, 9}, 1, 0},    // one task
    {{11}, 3, 0},      // a bias: the mean
};

void expect_agrees_with_reference(const MergeMethod& method, nlohmann::json parameters, double alpha = 1.0) {
  std::uint64_t seed = 40;
  for (const ReferenceCase& shape_case : kCases) {
    MethodInputs inputs = random_task_inputs(shape_case.shape, shape_case.tasks, ++seed, shape_case.rank);
    inputs.parameters = parameters.get<std::map<std::string, double>>();
    inputs.parameters["alpha"] = alpha;
    std::vector<double> weights;
    for (std::size_t i = 0; i < shape_case.tasks; ++i) {
      weights.push_back(0.5 + 0.25 * static_cast<double>(i));
      inputs.model_parameters[i]["weight"] = weights.back();
    }
    nlohmann::json reference_parameters = parameters;
    reference_parameters["alpha"] = alpha;
    reference_parameters["weights"] = weights;
    SCOPED_TRACE(method.name() + " on " + std::to_string(shape_case.tasks) + " task(s) of shape [" +
                 std::to_string(shape_case.shape[0]) + (shape_case.shape.size() > 1 ? ", " + std::to_string(shape_case.shape[1]) : "") + "]");
    expect_same_update(method.merge(inputs), reference_merge(method.name(), inputs, reference_parameters),
                       *inputs.base);
  }
}

TEST(TaskSingularVectorMerge, AgreesWithNumpyReference) {
  expect_agrees_with_reference(TaskSingularVectorMerge(), nlohmann::json::object(), 0.7);
}

TEST(IsotropicCommonMerge, AgreesWithNumpyReference) {
  expect_agrees_with_reference(IsotropicCommonMerge(), nlohmann::json::object(), 1.3);
}

TEST(IsotropicCommonAndTaskMerge, AgreesWithNumpyReference) {
  expect_agrees_with_reference(IsotropicCommonAndTaskMerge(), {{"common_space_fraction", 0.8}});
  expect_agrees_with_reference(IsotropicCommonAndTaskMerge(), {{"common_space_fraction", 0.3}}, 0.5);
}

// One task keeps all its components, already orthonormal: τ itself, so alpha 1 returns the fine-tuned model.
TEST(TaskSingularVectorMerge, OneTaskReturnsTheFineTunedModel) {
  const MethodInputs inputs = random_task_inputs({9, 5}, 1, 3);
  EXPECT_TRUE(at::allclose(TaskSingularVectorMerge().merge(inputs), inputs.models[0], 0, 1e-5));
}

// Tasks in orthogonal blocks (τ₁ in rows/columns 0-3, τ₂ in 4-7) of rank ≤ 2 each: their kept components are
// already orthonormal together, so TSV-M is their sum.
TEST(TaskSingularVectorMerge, TasksInOrthogonalSubspacesAreSummed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
  const at::Tensor base = at::randn({8, 8}, generator);
  at::Tensor first = at::zeros({8, 8});
  at::Tensor second = at::zeros({8, 8});
  first.narrow(0, 0, 4).narrow(1, 0, 4).copy_(at::matmul(at::randn({4, 2}, generator), at::randn({2, 4}, generator)));
  second.narrow(0, 4, 4).narrow(1, 4, 4).copy_(at::matmul(at::randn({4, 2}, generator), at::randn({2, 4}, generator)));
  EXPECT_TRUE(at::allclose(TaskSingularVectorMerge().merge(task_inputs(base, {first, second})), base + first + second,
                           0, 1e-5));
}

// T copies of one τ = diag(4, 3, 2, 1): each keeps ⌊4/2⌋ = 2 components, U = [e₁ e₂ e₁ e₂] is orthogonalised on its
// range to [e₁ e₂ e₁ e₂]/√2, and the two halves add up to the rank-2 truncation diag(4, 3, 0, 0).
TEST(TaskSingularVectorMerge, IdenticalTasksGiveTheTruncationOfTheirTaskVector) {
  const at::Tensor tau = at::diag(ladle::testing::floats({4, 3, 2, 1}));
  const at::Tensor merged = TaskSingularVectorMerge().merge(task_inputs(at::zeros({4, 4}), {tau, tau}));
  EXPECT_TRUE(at::allclose(merged, at::diag(ladle::testing::floats({4, 3, 0, 0})), 0, 1e-5)) << merged;
}

// Σ τᵢ = diag(3, 1) + diag(1, 1) = diag(4, 2): Iso-C flattens the spectrum to its mean, diag(3, 3).
TEST(IsotropicCommonMerge, ReplacesTheSpectrumOfTheSumByItsMean) {
  const at::Tensor merged = IsotropicCommonMerge().merge(task_inputs(
      at::ones({2, 2}), {at::diag(ladle::testing::floats({3, 1})), at::diag(ladle::testing::floats({1, 1}))}));
  EXPECT_TRUE(at::allclose(merged, at::ones({2, 2}) + at::diag(ladle::testing::floats({3, 3})), 0, 1e-5)) << merged;
}

// A rank-1 sum keeps its one direction with its own singular value (the mean over its rank), not an arbitrary
// completion.
TEST(IsotropicCommonMerge, RankDeficientSumKeepsOnlyItsRange) {
  const at::Tensor tau = at::outer(ladle::testing::floats({1, 2, 2}), ladle::testing::floats({0, 3, 4}));
  EXPECT_TRUE(at::allclose(IsotropicCommonMerge().merge(task_inputs(at::zeros({3, 3}), {tau})), tau, 0, 1e-5));
}

// With the whole rank common (fraction 1) there are no task-specific directions: Iso-CTS is Iso-C.
TEST(IsotropicCommonAndTaskMerge, WholeCommonSpaceIsIsoC) {
  MethodInputs inputs = random_task_inputs({10, 8}, 3, 9);
  inputs.parameters["common_space_fraction"] = 1.0;
  EXPECT_TRUE(at::allclose(IsotropicCommonAndTaskMerge().merge(inputs), IsotropicCommonMerge().merge(inputs), 0, 1e-5));
}

// Every kept direction gets the same singular value: the merged update has min(m, n) equal singular values.
TEST(IsotropicCommonAndTaskMerge, UpdateIsIsotropic) {
  const MethodInputs inputs = random_task_inputs({12, 9}, 3, 11);
  const at::Tensor update = IsotropicCommonAndTaskMerge().merge(inputs) - *inputs.base;
  const at::Tensor singular_values = at::linalg_svdvals(update.to(at::kDouble));
  EXPECT_LT((singular_values.max() - singular_values.min()).item<double>(), 1e-5 * singular_values.max().item<double>())
      << singular_values;
}

TEST(SpectralMerge, BiasesTakeTheMeanOfTheTaskVectors) {
  const at::Tensor merged = IsotropicCommonMerge().merge(
      task_inputs(ladle::testing::floats({1, 1}), {ladle::testing::floats({2, 0}), ladle::testing::floats({0, 4})}));
  EXPECT_TRUE(at::allclose(merged, ladle::testing::floats({2, 3})));
}

TEST(SpectralMerge, NeedsABaseModel) {
  MethodInputs inputs = random_task_inputs({4, 4}, 2, 1);
  inputs.base.reset();
  EXPECT_TRUE(ladle::testing::contains(error_message([&] { TaskSingularVectorMerge().merge(inputs); }),
                                       "needs a base model"));
}

TEST(IsotropicCommonAndTaskMerge, DeclaresTheCommonSpaceFractionInZeroToOne) {
  const std::vector<ParameterSpec> specs = find_merge_method("iso_cts").parameters();
  const auto fraction = std::find_if(specs.begin(), specs.end(),
                                     [](const ParameterSpec& spec) { return spec.name == "common_space_fraction"; });
  ASSERT_NE(fraction, specs.end());
  EXPECT_EQ(fraction->default_value, 0.8);
  EXPECT_FALSE(fraction->range.contains(0));
  EXPECT_TRUE(fraction->range.contains(1));
  EXPECT_FALSE(fraction->range.contains(1.5));
}

}  // namespace
}  // namespace ladle::merge
