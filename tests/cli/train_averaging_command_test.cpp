// `ladle train` with an `averaging:` section on a tiny model: the averaged models it writes equal the averages of
// the run's own checkpoints, computed here with plain ATen ops; every evaluation reports them; --resume continues
// bit-identically; a bad key inside the section is an error that names it; a program building the Trainer from the
// same config writes the same models; --list-callbacks names the types.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lib/io/checkpoint_reader.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"
#include "trainer/trainer.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;

// EMA with decay 0.5 from the first step, SWA from step 2, LAWA over the 2 latest of the snapshots 2 steps apart.
constexpr const char* kAveraging =
    "averaging:\n"
    "  ema: {decay: 0.5}\n"
    "  swa: {start_step: 2}\n"
    "  lawa: {k: 2, every: 2}\n";

class TrainAveragingCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("train-averaging-cli");
    trainer::testing::write_jsonl(path("train.jsonl"), trainer::testing::tiny_records(12));
    trainer::testing::write_jsonl(path("valid.jsonl"), trainer::testing::tiny_records(6, 100));
    // A checkpoint after every step, all kept, so the test can average the run's weights itself.
    ladle::testing::write_text_file(path("train.yml"),
                                    "max_steps: 4\nbatch_size: 4\nthreads: 1\nlog_every_steps: 1\n"
                                    "optimizer: {lr: 0.01}\n"
                                    "model: {config: " +
                                        trainer::testing::tiny_llama_json().dump() +
                                        "}\n"
                                        "tokenizer: {type: byte}\n"
                                        "data: {train: train.jsonl, valid: valid.jsonl}\n"
                                        "evaluation: {every_steps: 2, generation_examples: 2, max_new_tokens: 2}\n"
                                        "checkpoint: {every_steps: 1, keep_last: 0}\n" +
                                        kAveraging);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  ladle::testing::CommandResult train(const std::string& output_dir, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"-q", "train", "--config", path("train.yml"), "--set", "output_dir=" + output_dir};
    args.insert(args.end(), extra.begin(), extra.end());
    return ladle::testing::run_ladle(args);
  }

  static NamedTensors load(const std::string& folder) { return io::CheckpointReader(folder).load_all(); }
  NamedTensors weights_at_step(const std::string& output_dir, int step) const {
    char name[32];
    std::snprintf(name, sizeof(name), "step-%08d", step);
    return load(output_dir + "/checkpoints/" + name + "/model");
  }

  std::string dir_;
};

TEST_F(TrainAveragingCliTest, AveragedModelsAreTheAveragesOfTheRunsWeightsAndAreEvaluated) {
  const std::string out = path("out");
  const auto result = train(out);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<NamedTensors> w(5);
  for (int step = 1; step <= 4; ++step) w[step] = weights_at_step(out, step);
  const NamedTensors ema = load(out + "/ema"), swa = load(out + "/swa"), lawa = load(out + "/lawa");
  ASSERT_EQ(ema.names(), w[4].names());
  for (const auto& [name, live] : w[4]) {
    // EMA: the first update copies, then avg <- 0.5 avg + 0.5 w_t.
    at::Tensor expected_ema = w[1].at(name);
    for (int step = 2; step <= 4; ++step) expected_ema = 0.5 * expected_ema + 0.5 * w[step].at(name);
    EXPECT_TRUE(at::allclose(ema.at(name), expected_ema, 1e-6, 1e-7)) << name;
    EXPECT_TRUE(at::allclose(swa.at(name), (w[2].at(name) + w[3].at(name) + w[4].at(name)) / 3.0, 1e-6, 1e-7))
        << name;
    EXPECT_TRUE(at::allclose(lawa.at(name), (w[2].at(name) + w[4].at(name)) / 2.0, 1e-6, 1e-7)) << name;
    EXPECT_FALSE(at::allclose(ema.at(name), live)) << name << ": the average should differ from the final weights";
  }
  std::ifstream metrics(out + "/metrics.jsonl");
  nlohmann::json last_eval;
  for (std::string line; std::getline(metrics, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.at("kind") == "eval") last_eval = record;
  }
  ASSERT_FALSE(last_eval.is_null());
  EXPECT_EQ(last_eval.at("step"), 4);
  for (const char* metric : {"eval/loss", "ema/loss", "swa/loss", "lawa/loss"}) {
    EXPECT_TRUE(last_eval.contains(metric)) << metric << " missing from " << last_eval.dump();
  }
}

// 2 steps, then --resume to 4, against 4 steps straight: the live weights and every average bit for bit.
TEST_F(TrainAveragingCliTest, ResumeWithAveragingIsBitIdentical) {
  const std::string straight = path("straight"), split = path("split");
  ASSERT_EQ(train(straight).exit_code, 0);
  const auto first = train(split, {"--set", "max_steps=2"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto resumed = train(split, {"--resume", split});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(contains(resumed.out, "trained 4 steps")) << resumed.out;
  for (const char* folder : {"final", "ema", "swa", "lawa"}) {
    SCOPED_TRACE(folder);
    trainer::testing::expect_bitwise_equal(load(straight + "/" + folder), load(split + "/" + folder));
  }
}

TEST_F(TrainAveragingCliTest, OverridesReachTheAveragingSection) {
  const std::string out = path("out");
  // Decay 0 makes the EMA a copy of the latest weights.
  const auto result = train(out, {"--set", "averaging.ema.decay=0", "--set", "averaging.swa.enabled=false"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  trainer::testing::expect_bitwise_equal(load(out + "/ema"), load(out + "/final"));
  EXPECT_FALSE(std::filesystem::exists(out + "/swa"));
  EXPECT_TRUE(std::filesystem::exists(out + "/lawa/config.json"));
}

// The value came from --set, so the message names the --set argument (not the line of the file's section).
TEST_F(TrainAveragingCliTest, OutOfRangeSetValueNamesTheSetArgument) {
  const std::string out = path("out");
  const auto result = train(out, {"--set", "averaging.ema.decay=2"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "ladle: error: --set averaging.ema.decay=2: averaging.ema.decay: expected a number "
                                   "in [0, 1], got 2"))
      << result.err;
  EXPECT_FALSE(std::filesystem::exists(out)) << "nothing should be trained or written";
}

TEST_F(TrainAveragingCliTest, UnknownKeyInTheSectionIsNamedBeforeTraining) {
  const std::string out = path("out");
  const auto from_set = train(out, {"--set", "averaging.ema.decy=0.9"});
  EXPECT_EQ(from_set.exit_code, 1);
  EXPECT_TRUE(contains(from_set.err, "averaging.ema.decy: unknown key")) << from_set.err;
  EXPECT_TRUE(contains(from_set.err, "decay")) << "should list the known keys: " << from_set.err;
  EXPECT_FALSE(std::filesystem::exists(out)) << "nothing should be trained or written";

  std::ofstream(path("train.yml"), std::ios::app) << "  ewa: {decay: 0.9}\n";
  const auto from_file = train(out);
  EXPECT_EQ(from_file.exit_code, 1);
  // The averaging section starts on line 11 of the file; the unknown sub-section is named by its own line, 15.
  EXPECT_TRUE(contains(from_file.err, "train.yml:15: averaging.ewa: unknown callback type 'ewa' (did you mean "
                                      "'ema'?); registered types: ema, swa, lawa, posthoc, soup, wise_ft"))
      << from_file.err;
}

// The CLI no longer reads `averaging:` itself: a program that builds a Trainer from the same config writes the same
// averaged models.
TEST_F(TrainAveragingCliTest, TheLibraryWritesTheSameAveragedModelsAsTheCli) {
  const std::string cli = path("cli"), library = path("library");
  const auto result = train(cli);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  {
    trainer::Trainer trainer(trainer::TrainConfig::from_yaml_file(path("train.yml"), {"output_dir=" + library}));
    trainer.train();
  }
  for (const char* folder : {"final", "ema", "swa", "lawa"}) {
    SCOPED_TRACE(folder);
    trainer::testing::expect_bitwise_equal(load(library + "/" + folder), load(cli + "/" + folder));
  }
}

TEST(TrainCommand, ListCallbacksPrintsTheRegisteredTypesWithTheirDescriptions) {
  const auto result = ladle::testing::run_ladle({"train", "--list-callbacks"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* line : {"ema ", "swa ", "lawa ", "soup ", "wise_ft "}) {
    EXPECT_TRUE(contains(result.out, line)) << result.out;
  }
  EXPECT_TRUE(contains(result.out, "exponential moving average")) << result.out;
  const auto without_config = ladle::testing::run_ladle({"train"});
  EXPECT_EQ(without_config.exit_code, 2);
  EXPECT_TRUE(contains(without_config.err, "--config (or --list-callbacks) is required")) << without_config.err;
}

}  // namespace
}  // namespace ladle::callbacks
