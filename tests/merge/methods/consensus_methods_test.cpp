// Task-vector methods outside the generalized task arithmetic family: sce, ram and ramplus_tl.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "lib/merge/methods/ram.h"
#include "lib/merge/methods/sce.h"
#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::floats;

MethodInputs task_inputs(const at::Tensor& base, const std::vector<at::Tensor>& vectors) {
  MethodInputs inputs;
  inputs.tensor_name = "model.layers.7.mlp.gate_proj.weight";
  inputs.base = base;
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    inputs.models.push_back(base + vectors[i]);
    inputs.model_names.push_back("ft" + std::to_string(i));
    inputs.model_parameters.push_back({});
  }
  return inputs;
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tolerance = 1e-5) {
  EXPECT_TRUE(at::allclose(actual, expected, 0, tolerance)) << actual << "\nexpected\n" << expected;
}

// τ1 = [1, -1, 2], τ2 = [3, 1, 0]. Calculate: mean squares 2 and 10/3 → η = 0.375, 0.625. Erase: sums [4, 0, 2] are
// all + (0 counts as +); entry 1 keeps only τ2, entry 2 only τ1 (a zero never agrees):
//   [(0.375·1 + 0.625·3)/1, 0.625·1/0.625, 0.375·2/0.375] = [2.25, 1, 2].
TEST(SceMerge, CalculatedWeightsAndSignElectionMatchHandComputation) {
  expect_close(SceMerge().merge(task_inputs(floats({0, 0, 0}), {floats({1, -1, 2}), floats({3, 1, 0})})),
               floats({2.25f, 1, 2}));
}

// τ1 = [1, -1, 2], τ2 = [5, 1, 2]: variances [4, 1, 0], two non-zero; select_topk 0.5 keeps ⌊1⌋ = 1 entry (entry 0).
// Then η ∝ mean squares 1/3 and 25/3 → 1/26, 25/26, and entry 0 is (1/26·1 + 25/26·5)/1 = 126/26.
TEST(SceMerge, SelectKeepsTheHighestVarianceEntries) {
  MethodInputs inputs = task_inputs(floats({0, 0, 0}), {floats({1, -1, 2}), floats({5, 1, 2})});
  inputs.parameters["select_topk"] = 0.5;
  expect_close(SceMerge().merge(inputs), floats({126.0f / 26, 0, 0}));
}

TEST(SceMerge, CopiesOfOneModelReturnIt) {
  const at::Tensor base = floats({1, 1, 1});
  const at::Tensor tau = floats({0.5f, -2, 0});
  expect_close(SceMerge().merge(task_inputs(base, {tau, tau, tau})), base + tau);
}

TEST(SceMerge, SelectionMaskOfEqualVariancesIsEmptyAtTopkZero) {
  const at::Tensor vectors = at::stack({floats({1, 2}), floats({3, 4})});
  EXPECT_FALSE(sce_selection_mask(vectors, 0.0).any().item<bool>());
  EXPECT_TRUE(sce_selection_mask(vectors, 1.0).all().item<bool>());
}

// τ1 = [1, 2, 0], τ2 = [3, 0, 0]: entry 0 is shared (mean 2), entry 1 unique to τ1 (kept whole), entry 2 unchanged.
TEST(RamMerge, UniqueChangesAreKeptAndSharedOnesAveraged) {
  expect_close(RamMerge(false).merge(task_inputs(floats({0, 0, 0}), {floats({1, 2, 0}), floats({3, 0, 0})})),
               floats({2, 2, 0}));
}

TEST(RamMerge, ChangesBelowEpsilonDoNotCount) {
  MethodInputs inputs = task_inputs(floats({0, 0}), {floats({1e-7f, 4}), floats({2, 2})});
  // Entry 0: only τ2 contributes (τ1's 1e-7 is below ε = 1e-5 and dropped): 2. Entry 1: shared, mean 3.
  expect_close(RamMerge(false).merge(inputs), floats({2, 3}));
}

// As above, with τ1 sharing 1 entry and owning 1: ρ = 1, λ = 1 + 0.1·min(1, 0.2) = 1.02 on its unique entry.
TEST(RamPlusMerge, ScalesUniqueChangesByTheSharedToUniqueRatio) {
  expect_close(RamMerge(true).merge(task_inputs(floats({0, 0, 0}), {floats({1, 2, 0}), floats({3, 0, 0})})),
               floats({2, 2.04f, 0}));
}

TEST(RamMerge, CopiesOfOneModelReturnIt) {
  const at::Tensor base = floats({1, 2});
  const at::Tensor tau = floats({0.5f, -1});
  expect_close(RamMerge(false).merge(task_inputs(base, {tau, tau})), base + tau);
}

TEST(RamMerge, MissingBaseIsAnError) {
  MethodInputs inputs = task_inputs(floats({0}), {floats({1})});
  inputs.base.reset();
  EXPECT_THROW(RamMerge(true).merge(inputs), Error);
}

}  // namespace
}  // namespace ladle::merge
