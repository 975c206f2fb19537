// TrainConfig from YAML and --set overrides: values land in the right fields, and bad configs are errors that
// name the file, the line, the key and what was wrong.
#include "trainer/train_config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "lib/config/config_source.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle::trainer {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;

class TrainConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("train-config");
    ladle::testing::write_text_file(dir_ + "/train.jsonl", "{\"instruction\": \"Say hi\", \"output\": \"hi\"}\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A valid config (a fresh model on the byte tokenizer) followed by `extra` lines.
  std::string yaml(const std::string& extra = "", const std::string& train = "train.jsonl") const {
    return "model:\n"
           "  config: {hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32}\n"
           "tokenizer:\n"
           "  type: byte\n"
           "data:\n"
           "  train: " +
           train + "\n" + extra;
  }
  TrainConfig parse(const std::string& text, const std::vector<std::string>& overrides = {}) const {
    return TrainConfig::from_yaml(text, "train.yml", dir_, overrides);
  }

  std::string dir_;
};

TEST_F(TrainConfigTest, ValuesLandInTheirFieldsAndRelativePathsResolveAgainstTheConfigFolder) {
  const auto config =
      parse(yaml("max_steps: 12\noptimizer:\n  name: sgd\n  lr: 0.05\n  betas: [0.8, 0.99]\n"
                 "schedule: {name: cosine, warmup_steps: 3}\nevaluation:\n  choices: {spam: [yes, no]}\n"));
  EXPECT_EQ(config.max_steps, 12);
  EXPECT_EQ(config.optimizer.name, OptimizerKind::sgd);
  EXPECT_DOUBLE_EQ(config.optimizer.lr, 0.05);
  EXPECT_DOUBLE_EQ(config.optimizer.betas[0], 0.8);
  EXPECT_DOUBLE_EQ(config.optimizer.betas[1], 0.99);
  EXPECT_EQ(config.schedule.name, ScheduleKind::cosine);
  EXPECT_EQ(config.schedule.warmup_steps, 3);
  EXPECT_EQ(config.evaluation.choices.at("spam"), (std::vector<std::string>{"yes", "no"}));
  EXPECT_EQ(config.data.train, std::filesystem::path(dir_) / "train.jsonl");
  EXPECT_EQ(config.model.config.at("hidden_size"), 16);
}

TEST_F(TrainConfigTest, UnknownKeyIsNamedWithItsLineAndASuggestion) {
  const auto message = error_message([&] { parse(yaml("optimizer:\n  lr: 0.1\n  wieght_decay: 0.1\n")); });
  EXPECT_TRUE(contains(message, "train.yml:9: optimizer.wieght_decay: unknown key")) << message;
  EXPECT_TRUE(contains(message, "did you mean 'weight_decay'")) << message;
}

TEST_F(TrainConfigTest, WrongTypeIsNamedWithItsLineAndValue) {
  const auto message = error_message([&] { parse(yaml("batch_size: many\n")); });
  EXPECT_TRUE(contains(message, "train.yml:7: batch_size: expected a whole number, got 'many'")) << message;
}

TEST_F(TrainConfigTest, ValueOutOfRangeIsNamedWithItsLineAndTheAllowedRange) {
  const auto message = error_message([&] { parse(yaml("optimizer:\n  lr: -1\n")); });
  EXPECT_EQ(message, "train.yml:8: optimizer.lr: expected a number > 0, got -1");
  const auto beta = error_message([&] { parse(yaml("optimizer: {betas: [0.9, 1]}\n")); });
  EXPECT_EQ(beta, "train.yml:7: optimizer.betas[1]: expected a number in [0, 1), got 1");
}

TEST_F(TrainConfigTest, UnknownChoiceListsTheAllowedValues) {
  const auto message = error_message([&] { parse(yaml("schedule: {name: exponential}\n")); });
  EXPECT_TRUE(contains(message, "schedule.name: expected one of constant, linear, cosine, got 'exponential'"))
      << message;
}

TEST_F(TrainConfigTest, MissingTrainingDataIsNamed) {
  const auto message = error_message([&] { parse(yaml("", "nope.jsonl")); });
  EXPECT_TRUE(contains(message, "train.yml:6: data.train: training data '")) << message;
  EXPECT_TRUE(contains(message, "nope.jsonl' does not exist")) << message;
}

TEST_F(TrainConfigTest, MissingModelIsAnError) {
  const auto message = error_message([&] { parse("tokenizer: {type: byte}\ndata: {train: train.jsonl}\n"); });
  EXPECT_TRUE(contains(message, "model.path: must be set")) << message;
}

TEST_F(TrainConfigTest, InvalidYamlNamesTheLine) {
  const auto message = error_message([&] { parse(yaml("optimizer: [unclosed\n")); });
  EXPECT_TRUE(contains(message, "train.yml:8: not valid YAML")) << message;
}

TEST_F(TrainConfigTest, OverridesReplaceNestedValuesAndCreateSections) {
  const auto config = parse(yaml("optimizer: {lr: 0.1}\n"),
                            {"optimizer.lr=3e-4", "max_steps=7", "lora.target_modules=[q_proj, o_proj]"});
  EXPECT_DOUBLE_EQ(config.optimizer.lr, 3e-4);
  EXPECT_EQ(config.max_steps, 7);
  EXPECT_EQ(config.lora.target_modules, (std::vector<std::string>{"q_proj", "o_proj"}));
}

TEST_F(TrainConfigTest, OverridePathsResolveAgainstTheCurrentDirectory) {
  const auto config = parse(yaml(), {"output_dir=runs/a"});
  EXPECT_EQ(config.output_dir, (std::filesystem::current_path() / "runs/a").lexically_normal());
}

TEST_F(TrainConfigTest, BadOverrideIsNamedByItsArgument) {
  const auto message = error_message([&] { parse(yaml(), {"optimizer.lr=fast"}); });
  EXPECT_TRUE(contains(message, "--set optimizer.lr=fast: optimizer.lr: expected a number, got 'fast'"))
      << message;
  EXPECT_TRUE(contains(error_message([&] { parse(yaml(), {"optimizer.lrr=1"}); }),
                       "--set optimizer.lrr=1: optimizer.lrr: unknown key (did you mean 'lr'?)"));
  EXPECT_EQ(error_message([&] { parse(yaml("schedule: {min_lr_ratio: 0.1}\n"), {"schedule.min_lr_ratio=2"}); }),
            "--set schedule.min_lr_ratio=2: schedule.min_lr_ratio: expected a number in [0, 1], got 2");
  EXPECT_TRUE(contains(error_message([&] { parse(yaml(), {"max_steps"}); }), "expected key=value"));
}

TEST_F(TrainConfigTest, AveragingSectionIsKeptAsJsonWithItsFolderAndLine) {
  const auto config = parse(yaml("averaging:\n  ema: {decay: 0.999, every: 2}\n  lawa: {directory: ring}\n"),
                            {"averaging.ema.decay=0.99"});
  EXPECT_EQ(config.averaging.section.at("ema").at("decay"), 0.99);
  EXPECT_EQ(config.averaging.section.at("ema").at("every"), 2);
  EXPECT_EQ(config.averaging.section.at("lawa").at("directory"), "ring");
  EXPECT_EQ(config.averaging.base_dir, std::filesystem::path(dir_));
  ASSERT_NE(config.averaging.source, nullptr);
  EXPECT_EQ(config.averaging.key, "averaging");
  EXPECT_EQ(config.averaging.source->where("averaging"), "train.yml:7");
  EXPECT_EQ(config.averaging.source->where("averaging.ema.decay"), "--set averaging.ema.decay=0.99");
  EXPECT_EQ(config.to_json().at("averaging"), config.averaging.section);
}

TEST_F(TrainConfigTest, AveragingSectionGivenWithSetResolvesAgainstTheCurrentDirectory) {
  const auto config = parse(yaml(), {"averaging={lawa: {directory: ring}}"});
  EXPECT_EQ(config.averaging.base_dir, std::filesystem::current_path());
  ASSERT_NE(config.averaging.source, nullptr);
  EXPECT_EQ(config.averaging.source->where("averaging.lawa.directory"), "--set averaging={lawa: {directory: ring}}");
  EXPECT_TRUE(contains(error_message([&] { parse(yaml("averaging: [ema]\n")); }),
                       "train.yml:7: averaging: expected a mapping of averaging callbacks"));
}

TEST_F(TrainConfigTest, CommandLineReportsAMissingConfigFile) {
  const auto result = ladle::testing::run_ladle({"train", "--config", dir_ + "/absent.yml"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "absent.yml: no such config file")) << result.err;
}

}  // namespace
}  // namespace ladle::trainer
