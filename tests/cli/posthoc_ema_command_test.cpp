// `ladle train` with `averaging.posthoc` then `ladle posthoc-ema`: the snapshots and their records are written, a
// budget too small is refused before training, and the reconstruction of a tracked width at the last step is that
// width's last snapshot; with --valid each reconstruction is evaluated and recorded in posthoc.jsonl.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "lib/io/checkpoint_reader.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;

class PosthocEmaCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("posthoc-ema-cli");
    trainer::testing::write_jsonl(path("train.jsonl"), trainer::testing::tiny_records(12));
    trainer::testing::write_jsonl(path("valid.jsonl"), trainer::testing::tiny_records(6, 100));
    ladle::testing::write_text_file(path("train.yml"),
                                    "max_steps: 6\nbatch_size: 4\nthreads: 1\nlog_every_steps: 1\n"
                                    "optimizer: {lr: 0.01}\n"
                                    "model: {config: " +
                                        trainer::testing::tiny_llama_json().dump() +
                                        "}\n"
                                        "tokenizer: {type: byte}\n"
                                        "data: {train: train.jsonl, valid: valid.jsonl}\n"
                                        "averaging:\n  posthoc: {sigma_rels: [0.05, 0.1], every_steps: 4}\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  ladle::testing::CommandResult train(const std::string& output_dir, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"-q", "train", "--config", path("train.yml"), "--set", "output_dir=" + output_dir};
    args.insert(args.end(), extra.begin(), extra.end());
    return ladle::testing::run_ladle(args);
  }

  std::string dir_;
};

TEST_F(PosthocEmaCliTest, SnapshotsAreWrittenAndATrackedWidthReconstructsToItsLastSnapshot) {
  const std::string run = path("run");
  const auto trained = train(run);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  // Steps 4 and 6 (the last), two widths each, each folder with its record.
  for (const char* name : {"step-00000004-sigma_rel-0.05", "step-00000004-sigma_rel-0.1",
                           "step-00000006-sigma_rel-0.05", "step-00000006-sigma_rel-0.1"}) {
    EXPECT_TRUE(std::filesystem::exists(run + "/posthoc/" + name + "/config.json")) << name;
    EXPECT_TRUE(std::filesystem::exists(run + "/posthoc/" + name + ".json")) << name;
  }
  const auto result = ladle::testing::run_ladle(
      {"-q", "posthoc-ema", run, "--sigma-rel", "0.07,0.1", path("out"), "--valid", path("valid.jsonl"),
       "--tokenizer", "byte"});  // the run trained with the byte tokenizer: its folders have no tokenizer file
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const NamedTensors reconstruction = io::CheckpointReader(path("out/sigma_rel-0.1")).load_all();
  const NamedTensors snapshot = io::CheckpointReader(run + "/posthoc/step-00000006-sigma_rel-0.1").load_all();
  for (const auto& [name, tensor] : snapshot) {
    EXPECT_LE((reconstruction.at(name) - tensor).abs().max().item<double>(), 1e-5 * (1 + tensor.abs().max().item<double>()))
        << name;
  }
  EXPECT_TRUE(std::filesystem::exists(path("out/sigma_rel-0.07/config.json")));
  std::ifstream records(path("out/posthoc.jsonl"));
  std::string line;
  int lines = 0;
  while (std::getline(records, line)) {
    const auto record = nlohmann::json::parse(line);
    EXPECT_TRUE(record.contains("valid/loss")) << line;
    EXPECT_EQ(record.at("snapshots").get<int>(), 4) << line;
    ++lines;
  }
  EXPECT_EQ(lines, 2);
}

TEST_F(PosthocEmaCliTest, APlanBeyondTheBudgetIsRefusedBeforeTraining) {
  const std::string run = path("small-budget");
  const auto result = train(run, {"--set", "averaging.posthoc.budget=1KB"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.err, "raise averaging.posthoc.every_steps or averaging.posthoc.budget")) << result.err;
  EXPECT_FALSE(std::filesystem::exists(run + "/posthoc"));
}

}  // namespace
}  // namespace ladle::callbacks
