// Planning: which input tensors make each output tensor, and every parameter resolved for it.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "lib/merge/merge_executor.h"
#include "lib/merge/merge_plan.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using ladle::testing::RandomLlamaOptions;

class MergePlanTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("merge-plan"); }
  void TearDown() override { fs::remove_all(dir_); }

  void model(const std::string& name, RandomLlamaOptions options = {}) {
    ladle::testing::write_random_llama(dir_ / name, options);
  }
  // Parses `yaml` (model paths relative to the temp dir) and plans it.
  MergePlan plan(const std::string& yaml) {
    config_ = parse_merge_config(yaml, "merge.yml", dir_);
    models_ = std::make_unique<InputModels>(config_);
    return plan_merge(config_, *models_);
  }
  std::string plan_error(const std::string& yaml) {
    try {
      plan(yaml);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected planning to fail";
    return "";
  }
  const PlannedTensor& tensor(const MergePlan& plan, const std::string& name) {
    for (const auto& planned : plan.tensors) {
      if (planned.name == name) return planned;
    }
    throw std::runtime_error("no planned tensor " + name);
  }
  std::string model_of(const PlannedInput& input) { return (*models_)[input.model].reference.name; }

  fs::path dir_;
  MergeConfig config_;
  std::unique_ptr<InputModels> models_;
};

TEST_F(MergePlanTest, ModelsFormPlansEveryTensorOfTheReferenceInOrder) {
  model("a");
  model("b");
  const MergePlan plan = this->plan("merge_method: linear\nmodels:\n  - model: a\n  - model: b\nparameters: {weight: 1}\n");
  const auto expected = ladle::testing::random_llama_tensor_names({});
  ASSERT_EQ(plan.tensors.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(plan.tensors[i].name, expected[i]);
  EXPECT_EQ(plan.output_layers, 2);
  const PlannedTensor& q = tensor(plan, "model.layers.1.self_attn.q_proj.weight");
  ASSERT_EQ(q.models.size(), 2u);
  EXPECT_EQ(model_of(q.models[0]), "a");
  EXPECT_EQ(model_of(q.models[1]), "b");
  EXPECT_EQ(q.models[1].tensor, "model.layers.1.self_attn.q_proj.weight");
  EXPECT_FALSE(q.base.has_value());
}

TEST_F(MergePlanTest, PerModelGradientIsInterpolatedByLayer) {
  RandomLlamaOptions four_layers;
  four_layers.layers = 4;
  model("a", four_layers);
  model("b", four_layers);
  const MergePlan plan = this->plan(
      "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: [0, 1]}\n"
      "  - model: b\n    parameters: {weight: 1}\n");
  for (int layer = 0; layer < 4; ++layer) {
    const auto& planned = tensor(plan, "model.layers." + std::to_string(layer) + ".mlp.up_proj.weight");
    EXPECT_DOUBLE_EQ(planned.model_parameters[0].at("weight"), layer / 3.0) << "layer " << layer;
    EXPECT_EQ(planned.model_parameters[1].at("weight"), 1.0);
  }
  // Embeddings are planned at t = 0, the final norm and lm_head at t = 1 (mergekit's plan.py).
  EXPECT_EQ(tensor(plan, "model.embed_tokens.weight").model_parameters[0].at("weight"), 0.0);
  EXPECT_EQ(tensor(plan, "lm_head.weight").model_parameters[0].at("weight"), 1.0);
}

// A gradient's value at t = 1, its last layer's value, applies to the final norm and lm_head, as in mergekit up to
// v0.1.0 (later versions take t = 0 for them); t = 0 applies to the embeddings.
TEST_F(MergePlanTest, FinalNormAndLmHeadTakeTheGradientsLastLayerValue) {
  model("a");
  const MergePlan plan =
      this->plan("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: [2, 3, 5]}\n");
  EXPECT_EQ(tensor(plan, "model.embed_tokens.weight").model_parameters[0].at("weight"), 2.0);
  EXPECT_EQ(tensor(plan, "model.layers.1.mlp.up_proj.weight").model_parameters[0].at("weight"), 5.0);
  EXPECT_EQ(tensor(plan, "model.norm.weight").model_parameters[0].at("weight"), 5.0);
  EXPECT_EQ(tensor(plan, "lm_head.weight").model_parameters[0].at("weight"), 5.0);
}

TEST_F(MergePlanTest, MethodDefaultsAreFilledIn) {
  model("a");
  const MergePlan plan = this->plan("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 2}\n");
  EXPECT_EQ(plan.tensors.front().parameters.at("normalize"), 1.0);
}

TEST_F(MergePlanTest, SourceParametersOverrideSliceParametersWhichOverrideTopLevel) {
  model("a");
  model("b");
  const MergePlan plan = this->plan(
      "merge_method: linear\n"
      "slices:\n"
      "  - sources:\n"
      "      - model: a\n        layer_range: [0, 2]\n        parameters: {weight: 3}\n"
      "      - model: b\n        layer_range: [0, 2]\n"
      "    parameters: {weight: 2}\n"
      "parameters: {weight: 1, normalize: 0}\n");
  const auto& planned = tensor(plan, "model.layers.0.mlp.down_proj.weight");
  EXPECT_EQ(planned.model_parameters[0].at("weight"), 3.0);
  EXPECT_EQ(planned.model_parameters[1].at("weight"), 2.0);
  EXPECT_EQ(planned.parameters.at("normalize"), 0.0);
}

TEST_F(MergePlanTest, FilterWithoutMatchFallsThroughToTheNextLevel) {
  model("a");
  const MergePlan plan = this->plan(
      "merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight:\n"
      "        - filter: self_attn\n          value: 0.25\n"
      "parameters: {weight: 4}\n");
  EXPECT_EQ(tensor(plan, "model.layers.0.self_attn.v_proj.weight").model_parameters[0].at("weight"), 0.25);
  EXPECT_EQ(tensor(plan, "model.layers.0.mlp.gate_proj.weight").model_parameters[0].at("weight"), 4.0);
}

TEST_F(MergePlanTest, SlicesMapOutputLayersToSourceLayers) {
  RandomLlamaOptions four_layers;
  four_layers.layers = 4;
  model("a", four_layers);
  model("b", four_layers);
  const MergePlan plan = this->plan(
      "merge_method: linear\n"
      "slices:\n"
      "  - sources:\n      - model: a\n        layer_range: [0, 2]\n"
      "  - sources:\n      - model: b\n        layer_range: [1, 4]\n"
      "parameters: {weight: 1}\n");
  EXPECT_EQ(plan.output_layers, 5);
  const std::vector<std::pair<std::string, int>> expected = {{"a", 0}, {"a", 1}, {"b", 1}, {"b", 2}, {"b", 3}};
  for (int layer = 0; layer < 5; ++layer) {
    const auto& planned = tensor(plan, "model.layers." + std::to_string(layer) + ".input_layernorm.weight");
    ASSERT_EQ(planned.models.size(), 1u);
    EXPECT_EQ(model_of(planned.models[0]), expected[layer].first);
    EXPECT_EQ(planned.models[0].tensor,
              "model.layers." + std::to_string(expected[layer].second) + ".input_layernorm.weight");
  }
  // Embeddings come from the first slice's sources, the final norm and lm_head from the last slice's.
  EXPECT_EQ(model_of(tensor(plan, "model.embed_tokens.weight").models[0]), "a");
  EXPECT_EQ(model_of(tensor(plan, "model.norm.weight").models[0]), "b");
  EXPECT_EQ(model_of(tensor(plan, "lm_head.weight").models[0]), "b");
  EXPECT_EQ(plan.output_config->at("num_hidden_layers"), 5);
}

TEST_F(MergePlanTest, BaseModelIsTheBaseInputWithItsOwnParameters) {
  model("base");
  model("a");
  const MergePlan plan = this->plan(
      "merge_method: linear\nbase_model: base\nmodels:\n  - model: base\n    parameters: {weight: 0.5}\n"
      "  - model: a\n    parameters: {weight: 2}\n");
  const auto& planned = tensor(plan, "model.norm.weight");
  ASSERT_TRUE(planned.base.has_value());
  EXPECT_EQ(model_of(*planned.base), "base");
  EXPECT_EQ(planned.base_parameters.at("weight"), 0.5);
  ASSERT_EQ(planned.models.size(), 1u);
  EXPECT_EQ(model_of(planned.models[0]), "a");
}

TEST_F(MergePlanTest, UnlistedBaseModelIsAddedAsTheBaseInput) {
  model("base");
  model("a");
  const MergePlan plan =
      this->plan("merge_method: linear\nbase_model: base\nmodels:\n  - model: a\nparameters: {weight: 1}\n");
  EXPECT_EQ(model_of(*tensor(plan, "lm_head.weight").base), "base");
}

TEST_F(MergePlanTest, WorkingAndOutputDtypesFollowTheConfig) {
  RandomLlamaOptions bf16;
  bf16.dtype = c10::kBFloat16;
  model("a", bf16);
  const MergePlan stored = this->plan("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\n");
  EXPECT_EQ(stored.tensors.front().working_dtype, c10::kFloat);
  EXPECT_EQ(stored.tensors.front().out_dtype, c10::kBFloat16);
  const MergePlan configured =
      this->plan("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\ndtype: float16\nout_dtype: float32\n");
  EXPECT_EQ(configured.tensors.front().working_dtype, c10::kHalf);
  EXPECT_EQ(configured.tensors.front().out_dtype, c10::kFloat);
  EXPECT_EQ(configured.output_config->at("torch_dtype"), "float32");
}

TEST_F(MergePlanTest, VocabularyMatricesAreCutToTheSmallestVocabulary) {
  model("a");
  RandomLlamaOptions larger;
  larger.vocab = 40;
  model("b", larger);
  const MergePlan plan = this->plan("merge_method: linear\nmodels: [{model: b}, {model: a}]\nparameters: {weight: 1}\n");
  EXPECT_EQ(tensor(plan, "model.embed_tokens.weight").vocabulary_rows, 32);
  EXPECT_EQ(tensor(plan, "lm_head.weight").shape, (std::vector<std::int64_t>{32, 16}));
  EXPECT_FALSE(tensor(plan, "model.norm.weight").vocabulary_rows.has_value());
  EXPECT_EQ(plan.output_config->at("vocab_size"), 32);
}

TEST_F(MergePlanTest, MissingRequiredParameterNamesTheModelAndLine) {
  model("a");
  model("b");
  const std::string error = plan_error(
      "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n");
  EXPECT_NE(error.find("merge.yml:5"), std::string::npos) << error;
  EXPECT_NE(error.find("models[1] (b)"), std::string::npos) << error;
  EXPECT_NE(error.find("'weight'"), std::string::npos) << error;
}

TEST_F(MergePlanTest, UnknownParameterNamesTheKeyAndTheMethod) {
  model("a");
  const std::string error =
      plan_error("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1, densty: 0.5}\n");
  EXPECT_NE(error.find("models[0].parameters.densty"), std::string::npos) << error;
  EXPECT_NE(error.find("linear"), std::string::npos) << error;
}

TEST_F(MergePlanTest, MethodWideParameterUnderAModelIsRefused) {
  model("a");
  const std::string error =
      plan_error("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1, normalize: 0}\n");
  EXPECT_NE(error.find("method-wide"), std::string::npos) << error;
}

// Issue 15: a density is a fraction of the entries kept; 1.5 used to be taken as 1 and -0.2 to drop the model.
TEST_F(MergePlanTest, DensityAboveOneIsAnErrorNamingTheModelAndTheRange) {
  model("base");
  model("a");
  model("b");
  EXPECT_EQ(plan_error("merge_method: ties\nbase_model: base\nmodels:\n"
                       "  - model: a\n    parameters: {weight: 1, density: 0.5}\n"
                       "  - model: b\n    parameters: {weight: 1, density: 1.5}\n"),
            "merge.yml:7: models[1].parameters.density: expected a number in [0, 1], got 1.5 (model 'b', "
            "merge_method ties)");
}

TEST_F(MergePlanTest, NegativeDensityIsAnErrorNamingTheKeyAndTheRange) {
  model("base");
  model("a");
  EXPECT_EQ(plan_error("merge_method: dare_ties\nbase_model: base\nmodels: [{model: a}]\n"
                       "parameters:\n  weight: 1\n  density: -0.2\n"),
            "merge.yml:6: parameters.density: expected a number in [0, 1], got -0.2 (merge_method dare_ties)");
}

// Every point of a gradient is checked (values between two points then lie in the range too).
TEST_F(MergePlanTest, DensityGradientPointOutsideTheRangeIsNamed) {
  model("base");
  model("a");
  EXPECT_EQ(plan_error("merge_method: ties\nbase_model: base\nmodels:\n"
                       "  - model: a\n    parameters:\n      weight: 1\n      density: [0.5, 1.5]\n"),
            "merge.yml:7: models[0].parameters.density[1]: expected a number in [0, 1], got 1.5 (model 'a', "
            "merge_method ties)");
}

TEST_F(MergePlanTest, EpsilonOutsideItsRangeIsAnError) {
  model("base");
  model("a");
  const std::string config = "merge_method: della\nbase_model: base\nmodels:\n"
                             "  - model: a\n    parameters: {weight: 1, density: 0.5, epsilon: ";
  EXPECT_EQ(plan_error(config + "-0.1}\n"),
            "merge.yml:5: models[0].parameters.epsilon: expected a number in [0, 0.5), got -0.1 (model 'a', "
            "merge_method della)");
  EXPECT_NE(plan_error(config + "0.5}\n").find("expected a number in [0, 0.5), got 0.5"), std::string::npos);
}

// DELLA's keep probabilities span [density − ε, density + ε], which must lie in (0, 1): a relation between two
// in-range values, checked by the method (MergeMethod::validate) while planning, before any tensor is read.
TEST_F(MergePlanTest, DellaDensityPlusEpsilonBeyondOneIsRefusedWhilePlanning) {
  model("base");
  model("a");
  const std::string error = plan_error("merge_method: della\nbase_model: base\nmodels:\n"
                                       "  - model: a\n    parameters: {weight: 1, density: 0.7, epsilon: 0.4}\n");
  EXPECT_EQ(error, "merge.yml:1: della: tensor 'model.embed_tokens.weight': model 'a': density ± epsilon must lie "
                   "in (0, 1), got density 0.7 and epsilon 0.4");
}

// slerp's t outside [0, 1] extrapolates (ExPO): allowed, with a warning naming the gradient's point; the planned
// value is the gradient's (layer 0 of 2 takes the first point).
TEST_F(MergePlanTest, SlerpFactorOutsideTheUnitIntervalPlansWithAWarning) {
  model("base");
  model("a");
  const MergePlan plan = this->plan(
      "merge_method: slerp\nbase_model: base\nmodels: [{model: a}]\nparameters:\n  t: [-0.5, 0.5, 1.5]\n");
  std::vector<std::string> warnings;
  for (const auto& warning : plan.warnings) {
    if (warning.find("extrapolates") != std::string::npos) warnings.push_back(warning);
  }
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0].find("merge.yml:5: parameters.t[0]: slerp's t = -0.5 is outside [0, 1]: it extrapolates"),
            0u)
      << warnings[0];
  EXPECT_EQ(warnings[1].find("merge.yml:5: parameters.t[2]: slerp's t = 1.5 is outside [0, 1]"), 0u) << warnings[1];
  EXPECT_EQ(tensor(plan, "model.layers.0.mlp.up_proj.weight").parameters.at("t"), -0.5);
  EXPECT_EQ(tensor(plan, "model.layers.1.mlp.up_proj.weight").parameters.at("t"), 1.5);
}

TEST_F(MergePlanTest, SlerpFactorInsideTheUnitIntervalHasNoWarning) {
  model("base");
  model("a");
  const MergePlan plan =
      this->plan("merge_method: slerp\nbase_model: base\nmodels: [{model: a}]\nparameters: {t: [0, 1]}\n");
  for (const auto& warning : plan.warnings) EXPECT_EQ(warning.find("extrapolates"), std::string::npos) << warning;
}

// The method's own refusals that need no tensor data come from planning, so `ladle merge check` reports them.
TEST_F(MergePlanTest, PassthroughOfTwoModelsIsRefusedWhilePlanning) {
  model("a");
  model("b");
  EXPECT_EQ(plan_error("merge_method: passthrough\nmodels:\n  - model: a\n  - model: b\n"),
            "merge.yml:1: passthrough: tensor 'model.embed_tokens.weight': expects exactly one input tensor, got 2");
}

TEST_F(MergePlanTest, LinearWeightsSummingToZeroAreRefusedWhilePlanning) {
  model("a");
  model("b");
  const std::string error = plan_error(
      "merge_method: linear\nmodels:\n  - {model: a, parameters: {weight: 1}}\n"
      "  - {model: b, parameters: {weight: -1}}\n");
  EXPECT_NE(error.find("the weights sum to 0, so normalize cannot divide by them"), std::string::npos) << error;
}

TEST_F(MergePlanTest, UnknownMethodListsTheKnownOnes) {
  model("a");
  const std::string error = plan_error("merge_method: lnear\nmodels: [{model: a}]\n");
  EXPECT_NE(error.find("merge.yml:1"), std::string::npos) << error;
  EXPECT_NE(error.find("linear"), std::string::npos) << error;
}

TEST_F(MergePlanTest, LayerRangeBeyondTheModelIsRefused) {
  model("a");
  const std::string error = plan_error(
      "merge_method: linear\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 3]\n"
      "parameters: {weight: 1}\n");
  EXPECT_NE(error.find("slices[0].sources[0] (a)"), std::string::npos) << error;
  EXPECT_NE(error.find("out of bounds"), std::string::npos) << error;
}

TEST_F(MergePlanTest, SlicesOfDifferentLengthsAreRefused) {
  model("a");
  model("b");
  const std::string error = plan_error(
      "merge_method: linear\nslices:\n  - sources:\n      - {model: a, layer_range: [0, 2]}\n"
      "      - {model: b, layer_range: [0, 1]}\nparameters: {weight: 1}\n");
  EXPECT_NE(error.find("same number of layers"), std::string::npos) << error;
}

TEST_F(MergePlanTest, MismatchedShapesNameTheTensor) {
  model("a");
  RandomLlamaOptions wider;
  wider.intermediate = 32;
  model("b", wider);
  const std::string error = plan_error("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  EXPECT_NE(error.find("model.layers.0.mlp.gate_proj.weight"), std::string::npos) << error;
}

TEST_F(MergePlanTest, UnreadableModelIsNamed) {
  model("a");
  const std::string error = plan_error("merge_method: linear\nmodels: [{model: a}, {model: nowhere}]\n");
  EXPECT_NE(error.find("'nowhere'"), std::string::npos) << error;
}

TEST(TensorSeed, DependsOnTheRunSeedAndTheNameOnly) {
  EXPECT_EQ(tensor_seed(7, "model.norm.weight"), tensor_seed(7, "model.norm.weight"));
  EXPECT_NE(tensor_seed(7, "model.norm.weight"), tensor_seed(8, "model.norm.weight"));
  EXPECT_NE(tensor_seed(7, "model.norm.weight"), tensor_seed(7, "lm_head.weight"));
}

}  // namespace
}  // namespace ladle::merge
