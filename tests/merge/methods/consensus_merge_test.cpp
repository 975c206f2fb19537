// consensus_ta and consensus_ties (Consensus Merging with TALL masks): hand-computed masks, the invariants of k, and
// agreement with numpy's reference from the paper's equations (tests/tools/merge_methods_reference.py).
#include "lib/merge/methods/consensus.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "lib/merge/merge_method_registry.h"
#include "tests/support/merge_method_reference.h"
#include "tests/support/method_inputs.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;
using ladle::testing::floats;
using ladle::testing::random_task_inputs;
using ladle::testing::task_inputs;

// τ₁ = [1, 0.1, −2], τ₂ = [1, 3, 0.1], so τ_MTL = [2, 3.1, −1.9] and τ_MTL − τ₁ = τ₂. With λ = 0.6:
//   m₁ = |τ₁| ≥ 0.6·|τ₂| = [1 ≥ 0.6, 0.1 ≥ 1.8, 2 ≥ 0.06]   = [1, 0, 1]
//   m₂ = |τ₂| ≥ 0.6·|τ₁| = [1 ≥ 0.6, 3 ≥ 0.06, 0.1 ≥ 1.2]   = [1, 1, 0]
// Votes [2, 1, 1]: k = 2 keeps entry 0 only, k = 1 keeps all.
TEST(ConsensusMerge, KeepsEntriesAtLeastKTallMasksSelect) {
  MethodInputs inputs = task_inputs(floats({1, 1, 1}), {floats({1, 0.1f, -2}), floats({1, 3, 0.1f})});
  EXPECT_TRUE(at::allclose(ConsensusMerge(false).merge(inputs), floats({3, 1, 1})));
  inputs.parameters["k"] = 1;
  EXPECT_TRUE(at::allclose(ConsensusMerge(false).merge(inputs), floats({3, 4.1f, -0.9f})));
  inputs.parameters["lambda"] = 0.5;
  EXPECT_TRUE(at::allclose(ConsensusMerge(false).merge(inputs), floats({2, 2.55f, 0.05f})));
}

// k = 0 drops nothing: the multi-task method itself.
TEST(ConsensusMerge, KZeroIsTheMultiTaskMethod) {
  MethodInputs inputs = random_task_inputs({6, 5}, 3, 2);
  inputs.parameters["k"] = 0;
  for (auto& parameters : inputs.model_parameters) parameters["weight"] = 1;
  EXPECT_TRUE(at::allclose(ConsensusMerge(false).merge(inputs), find_merge_method("task_arithmetic").merge(inputs)));
}

// One model, k = 1: its mask |τ| ≥ λ·|τ − τ| = 0 keeps every entry, so the fine-tuned model comes back.
TEST(ConsensusMerge, OneModelWithKOneReturnsIt) {
  MethodInputs inputs = random_task_inputs({4, 3}, 1, 3);
  inputs.parameters["k"] = 1;
  EXPECT_TRUE(at::allclose(ConsensusMerge(false).merge(inputs), inputs.models[0]));
}

TEST(ConsensusMerge, KAboveTheModelCountIsAnError) {
  MethodInputs inputs = random_task_inputs({4}, 2, 4);
  inputs.parameters["k"] = 3;
  const std::string message = error_message([&] { ConsensusMerge(true).validate(inputs); });
  EXPECT_TRUE(contains(message, "consensus_ties: tensor 'model.layers.2.mlp.down_proj.weight': k = 3 exceeds "
                                "the number of models besides the base (2)"))
      << message;
}

TEST(ConsensusMerge, FractionalKIsAnError) {
  MethodInputs inputs = random_task_inputs({4}, 2, 4);
  inputs.parameters["k"] = 1.5;
  EXPECT_TRUE(contains(error_message([&] { ConsensusMerge(false).validate(inputs); }), "k must be a whole number"));
}

TEST(ConsensusMerge, TiesDefaultsAreTheAuthors) {
  std::map<std::string, ParameterSpec> specs;
  for (const ParameterSpec& spec : ConsensusMerge(true).parameters()) specs.emplace(spec.name, spec);
  EXPECT_EQ(specs.at("density").default_value, 0.2);
  EXPECT_EQ(specs.at("normalize").default_value, 0.0);
  EXPECT_FALSE(specs.at("weight").required);
  EXPECT_EQ(specs.at("k").default_value, 2.0);
  EXPECT_EQ(specs.at("tall_mask_lambda").default_value, 0.6);
}

// The example above: task 1's TALL mask [1, 0, 1] retrieves [2, 0, −1.9] of τ_MTL, task 2's [1, 1, 0] [2, 3.1, 0].
TEST(TallMaskMerge, RetrievesTheEntriesOfTheMultiTaskVectorATaskUses) {
  MethodInputs inputs = task_inputs(floats({1, 1, 1}), {floats({1, 0.1f, -2}), floats({1, 3, 0.1f})});
  inputs.parameters["task"] = 1;
  EXPECT_TRUE(at::allclose(TallMaskMerge().merge(inputs), floats({3, 1, -0.9f})));
  inputs.parameters["task"] = 2;
  EXPECT_TRUE(at::allclose(TallMaskMerge().merge(inputs), floats({3, 4.1f, 1})));
}

TEST(TallMaskMerge, OneModelReturnsIt) {
  MethodInputs inputs = random_task_inputs({5, 4}, 1, 6);
  inputs.parameters["task"] = 1;
  EXPECT_TRUE(at::allclose(TallMaskMerge().merge(inputs), inputs.models[0]));
}

TEST(TallMaskMerge, TaskOutsideTheModelsIsAnError) {
  MethodInputs inputs = random_task_inputs({4}, 2, 7);
  inputs.parameters["task"] = 3;
  EXPECT_TRUE(contains(error_message([&] { TallMaskMerge().validate(inputs); }),
                       "task must be the number of one of the 2 models besides the base (1 for the first), got 3"));
}

struct ReferenceCase {
  bool ties;
  std::vector<std::int64_t> shape;
  std::size_t tasks;
  nlohmann::json parameters;
};

TEST(ConsensusMerge, AgreesWithNumpyReference) {
  const std::vector<ReferenceCase> cases = {
      {false, {16, 12}, 3, {{"k", 2}, {"tall_mask_lambda", 0.6}}},
      {false, {37}, 4, {{"k", 3}, {"tall_mask_lambda", 0.3}, {"lambda", 0.8}}},
      {false, {5, 8}, 2, {{"k", 1}, {"tall_mask_lambda", 1.0}, {"normalize", 1}}},
      {true, {16, 12}, 3, {{"k", 2}, {"tall_mask_lambda", 0.6}, {"density", 0.2}, {"normalize", 0}}},
      {true, {9, 7}, 4, {{"k", 2}, {"tall_mask_lambda", 0.4}, {"density", 0.5}, {"normalize", 1}}},
      {true, {40}, 2, {{"k", 1}, {"tall_mask_lambda", 0.2}, {"density", 0.3}, {"normalize", 0}, {"lambda", 1.5}}},
  };
  std::uint64_t seed = 70;
  for (const ReferenceCase& reference_case : cases) {
    MethodInputs inputs = random_task_inputs(reference_case.shape, reference_case.tasks, ++seed);
    inputs.parameters = reference_case.parameters.get<std::map<std::string, double>>();
    nlohmann::json parameters = reference_case.parameters;
    std::vector<double> weights;
    for (std::size_t i = 0; i < reference_case.tasks; ++i) {
      weights.push_back(1.0 - 0.2 * static_cast<double>(i));
      inputs.model_parameters[i]["weight"] = weights.back();
      inputs.model_parameters[i]["density"] = parameters.value("density", 1.0);
    }
    parameters["weights"] = weights;
    const ConsensusMerge method(reference_case.ties);
    SCOPED_TRACE(method.name() + " " + parameters.dump());
    ladle::testing::expect_same_update(method.merge(inputs), ladle::testing::reference_merge(method.name(), inputs, parameters),
                                       *inputs.base);
  }
}

}  // namespace
}  // namespace ladle::merge
