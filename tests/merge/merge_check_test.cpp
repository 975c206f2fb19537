// The pre-merge compatibility report.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/merge/merge_check.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using ladle::testing::RandomLlamaOptions;

class MergeCheckTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("merge-check"); }
  void TearDown() override { fs::remove_all(dir_); }

  MergeCheckReport check(const std::string& yaml) {
    config_ = parse_merge_config(yaml, "merge.yml", dir_);
    models_ = std::make_unique<InputModels>(config_);
    return check_merge(config_, *models_);
  }
  // The findings of one severity and topic.
  static std::vector<CheckFinding> findings(const MergeCheckReport& report, CheckSeverity severity,
                                            const std::string& topic) {
    std::vector<CheckFinding> found;
    for (const auto& finding : report.findings) {
      if (finding.severity == severity && finding.topic == topic) found.push_back(finding);
    }
    return found;
  }

  fs::path dir_;
  MergeConfig config_;
  std::unique_ptr<InputModels> models_;
};

TEST_F(MergeCheckTest, CompatibleModelsHaveNoErrors) {
  ladle::testing::write_random_llama(dir_ / "a");
  ladle::testing::write_random_llama(dir_ / "b");
  const auto report = check("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  EXPECT_FALSE(report.has_errors()) << report.text();
  EXPECT_NE(report.text().find("ready to merge"), std::string::npos);
}

TEST_F(MergeCheckTest, VocabularySizeMismatchIsAWarningWithTheRowCounts) {
  ladle::testing::write_random_llama(dir_ / "a");
  RandomLlamaOptions larger;
  larger.vocab = 34;
  ladle::testing::write_random_llama(dir_ / "b", larger);
  const auto report = check("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  const auto vocabulary = findings(report, CheckSeverity::warning, "vocabulary");
  ASSERT_EQ(vocabulary.size(), 2u) << report.text();  // embed_tokens and lm_head
  EXPECT_NE(vocabulary[0].message.find("32 rows: 'a'"), std::string::npos) << vocabulary[0].message;
  EXPECT_NE(vocabulary[0].message.find("34 rows: 'b'"), std::string::npos) << vocabulary[0].message;
  EXPECT_NE(vocabulary[0].advice.find("first 32 rows"), std::string::npos) << vocabulary[0].advice;
  EXPECT_FALSE(report.has_errors()) << report.text();
}

TEST_F(MergeCheckTest, ATokenizerSettingNeedsTheBaseTokenizerReadable) {
  ladle::testing::write_random_llama(dir_ / "a");  // stand-in tokenizer.json files, not real tokenizers
  RandomLlamaOptions larger;
  larger.vocab = 34;
  ladle::testing::write_random_llama(dir_ / "b", larger);
  const auto report = check(
      "merge_method: linear\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n"
      "tokenizer_source: base\n");
  const auto errors = findings(report, CheckSeverity::error, "vocabulary");
  ASSERT_EQ(errors.size(), 1u) << report.text();
  EXPECT_NE(errors[0].message.find("merge.yml:5: tokenizer_source: expected the base model 'a''s tokenizer to be "
                                   "readable"),
            std::string::npos)
      << errors[0].message;
}

TEST_F(MergeCheckTest, MissingTensorIsAnErrorNamingModelAndTensor) {
  ladle::testing::write_random_llama(dir_ / "a");
  // b: a's tensors without one layer norm.
  const NamedTensors full = ladle::testing::write_random_llama(dir_ / "full");
  NamedTensors partial;
  for (const auto& [name, tensor] : full) {
    if (name != "model.layers.1.post_attention_layernorm.weight") partial.insert(name, tensor);
  }
  io::save_checkpoint(dir_ / "b", partial, *io::CheckpointReader(dir_ / "full").config());
  const auto report = check("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  const auto missing = findings(report, CheckSeverity::error, "tensors");
  ASSERT_EQ(missing.size(), 1u) << report.text();
  EXPECT_NE(missing[0].message.find("'b' lacks 1 tensor"), std::string::npos) << missing[0].message;
  EXPECT_NE(missing[0].message.find("model.layers.1.post_attention_layernorm.weight"), std::string::npos);
  EXPECT_FALSE(missing[0].advice.empty());
}

TEST_F(MergeCheckTest, ShapeMismatchIsAnError) {
  ladle::testing::write_random_llama(dir_ / "a");
  RandomLlamaOptions wider;
  wider.intermediate = 40;
  ladle::testing::write_random_llama(dir_ / "b", wider);
  const auto report = check("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  const auto shapes = findings(report, CheckSeverity::error, "shapes");
  ASSERT_EQ(shapes.size(), 1u) << report.text();
  EXPECT_NE(shapes[0].message.find("mlp.down_proj.weight [16, 40] vs [16, 24]"), std::string::npos)
      << shapes[0].message;
}

TEST_F(MergeCheckTest, ArchitectureMismatchIsAnError) {
  ladle::testing::write_random_llama(dir_ / "a");
  const NamedTensors tensors = io::CheckpointReader(dir_ / "a").load_all();
  auto config = ladle::testing::random_llama_config({});
  config["architectures"] = {"MistralForCausalLM"};
  io::save_checkpoint(dir_ / "b", tensors, config);
  const auto report = check("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  EXPECT_EQ(findings(report, CheckSeverity::error, "architecture").size(), 1u) << report.text();
}

TEST_F(MergeCheckTest, UnreadableModelIsAnErrorAndOtherProblemsAreStillReported) {
  ladle::testing::write_random_llama(dir_ / "a");
  // The reader refuses an unknown method (with a "did you mean"); a config built in code can still name one.
  config_ = parse_merge_config(
      "merge_method: linear\nslices:\n  - sources:\n      - {model: a, layer_range: [0, 5]}\n"
      "      - {model: missing, layer_range: [0, 5]}\n",
      "merge.yml", dir_);
  config_.merge_method = "lnear";
  models_ = std::make_unique<InputModels>(config_);
  const auto report = check_merge(config_, *models_);
  EXPECT_EQ(findings(report, CheckSeverity::error, "models").size(), 1u) << report.text();
  EXPECT_EQ(findings(report, CheckSeverity::error, "config").size(), 1u) << report.text();  // unknown method
  EXPECT_EQ(findings(report, CheckSeverity::error, "layers").size(), 1u) << report.text();  // [0, 5] of 2 layers
  EXPECT_NE(report.text().find("the merge would stop"), std::string::npos);
}

TEST_F(MergeCheckTest, PlanningErrorsAreReported) {
  ladle::testing::write_random_llama(dir_ / "a");
  ladle::testing::write_random_llama(dir_ / "b");
  const auto report = check("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b}]\n");
  const auto config = findings(report, CheckSeverity::error, "config");
  ASSERT_EQ(config.size(), 1u) << report.text();
  EXPECT_NE(config[0].message.find("'weight'"), std::string::npos) << config[0].message;
}

// The SVD and consensus methods' parameters go through the same declared ranges and validate() as every method's.
TEST_F(MergeCheckTest, CommonSpaceFractionOutsideZeroToOneIsAnError) {
  ladle::testing::write_random_llama(dir_ / "base");
  ladle::testing::write_random_llama(dir_ / "a");
  const auto report = check(
      "merge_method: iso_cts\nbase_model: base\nmodels: [{model: a}]\nparameters: {common_space_fraction: 0}\n");
  const auto config = findings(report, CheckSeverity::error, "config");
  ASSERT_EQ(config.size(), 1u) << report.text();
  EXPECT_NE(config[0].message.find("common_space_fraction"), std::string::npos) << config[0].message;
  EXPECT_NE(config[0].message.find("(0, 1]"), std::string::npos) << config[0].message;
}

TEST_F(MergeCheckTest, ConsensusKAboveTheModelCountIsAnError) {
  ladle::testing::write_random_llama(dir_ / "base");
  ladle::testing::write_random_llama(dir_ / "a");
  ladle::testing::write_random_llama(dir_ / "b");
  const auto report =
      check("merge_method: consensus_ta\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {k: 3}\n");
  const auto config = findings(report, CheckSeverity::error, "config");
  ASSERT_EQ(config.size(), 1u) << report.text();
  EXPECT_NE(config[0].message.find("k = 3 exceeds the number of models besides the base (2)"), std::string::npos)
      << config[0].message;
}

TEST_F(MergeCheckTest, DifferentStoredDtypesAreANote) {
  ladle::testing::write_random_llama(dir_ / "a");
  RandomLlamaOptions bf16;
  bf16.dtype = c10::kBFloat16;
  ladle::testing::write_random_llama(dir_ / "b", bf16);
  const auto report = check("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  EXPECT_EQ(findings(report, CheckSeverity::note, "dtypes").size(), 1u) << report.text();
  EXPECT_FALSE(report.has_errors());
}

}  // namespace
}  // namespace ladle::merge
