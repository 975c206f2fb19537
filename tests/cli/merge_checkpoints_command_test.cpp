// `ladle merge-checkpoints` end to end on a tiny run: checkpoints every 2 steps and a LAWA ring weighted by wma over
// the same steps; the merge of the last 3 checkpoints with wma is the ring's average, the merged folder trains
// further as a model.path, --valid scores it, and asking for more checkpoints than the run has names how many it has.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "lib/io/checkpoint_reader.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;

class MergeCheckpointsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("merge-checkpoints-cli");
    trainer::testing::write_jsonl(path("train.jsonl"), trainer::testing::tiny_records(12));
    trainer::testing::write_jsonl(path("valid.jsonl"), trainer::testing::tiny_records(6, 100));
    const std::string common = "batch_size: 4\nthreads: 1\nlog_every_steps: 1\noptimizer: {lr: 0.01}\n"
                               "tokenizer: {type: byte}\ndata: {train: train.jsonl, valid: valid.jsonl}\n";
    ladle::testing::write_text_file(path("train.yml"),
                                    common + "max_steps: 6\nmodel: {config: " +
                                        trainer::testing::tiny_llama_json().dump() +
                                        "}\ncheckpoint: {every_steps: 2, keep_last: 0}\n"
                                        "averaging:\n  lawa: {k: 3, every: 2, scheme: wma}\n");
    ladle::testing::write_text_file(path("continue.yml"), common + "max_steps: 1\nmodel: {path: merged}\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

TEST_F(MergeCheckpointsCliTest, WmaOfTheLastCheckpointsIsTheWmaLawaRingAndTrainsFurther) {
  const std::string run = path("run");
  const auto trained =
      ladle::testing::run_ladle({"-q", "train", "--config", path("train.yml"), "--set", "output_dir=" + run});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const auto merged = ladle::testing::run_ladle({"-q", "merge-checkpoints", run, "--scheme", "wma", "--last", "3",
                                                 path("merged"), "--valid", path("valid.jsonl"), "--tokenizer",
                                                 "byte"});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  const auto record = nlohmann::json::parse(merged.out);
  EXPECT_EQ(record.at("steps"), nlohmann::json({2, 4, 6}));
  EXPECT_EQ(record.at("scheme"), "wma");
  EXPECT_TRUE(record.at("valid/loss").is_number()) << merged.out;
  // The ring and the merge both sum w_i theta_i in fp64 from the same fp32 weights and round once.
  const NamedTensors lawa = io::CheckpointReader(run + "/lawa").load_all();
  const NamedTensors result = io::CheckpointReader(path("merged")).load_all();
  ASSERT_EQ(result.size(), lawa.size());
  for (const auto& [name, tensor] : lawa) {
    EXPECT_TRUE(at::equal(result.at(name), tensor))
        << name << ": max difference " << (result.at(name) - tensor).abs().max().item<double>();
  }
  const auto continued = ladle::testing::run_ladle(
      {"-q", "train", "--config", path("continue.yml"), "--set", "output_dir=" + path("continued")});
  EXPECT_EQ(continued.exit_code, 0) << continued.err;
  EXPECT_TRUE(std::filesystem::exists(path("continued/final/config.json")));
}

TEST_F(MergeCheckpointsCliTest, MoreCheckpointsThanTheRunHasIsAnErrorNamingHowManyItHas) {
  const std::string run = path("run");
  ASSERT_EQ(ladle::testing::run_ladle({"-q", "train", "--config", path("train.yml"), "--set", "output_dir=" + run})
                .exit_code,
            0);
  const auto result = ladle::testing::run_ladle({"merge-checkpoints", run, "--last", "5", path("merged")});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.err, "--last 5: " + run + " has 3 complete checkpoint(s) (steps 2, 4, 6)")) << result.err;
  const auto bad_scheme =
      ladle::testing::run_ladle({"merge-checkpoints", run, "--scheme", "ema", "--last", "2", path("merged")});
  EXPECT_TRUE(contains(bad_scheme.err, "--scheme: expected sma, ema:ALPHA")) << bad_scheme.err;
  EXPECT_FALSE(std::filesystem::exists(path("merged")));
}

}  // namespace
}  // namespace ladle::callbacks
