// Checkpoint-series merging (callbacks/checkpoint_series_merge.h) over hand-made runs: the merge is the hand-weighted
// sum of the checkpoints' tensors, N identical checkpoints come back bit for bit, and checkpoints that are incomplete
// or do not match their checksums are passed over.
#include "callbacks/checkpoint_series_merge.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checksum_manifest.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "trainer/checkpoint.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;

class CheckpointSeriesMergeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("checkpoint-series"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path run() const { return dir_ / "run"; }

  // A complete checkpoint of `step` whose model is the random Llama of `seed`, with its checksum manifest.
  NamedTensors write_checkpoint(std::int64_t step, std::uint64_t seed) const {
    const std::filesystem::path checkpoint = trainer::checkpoint_path(run(), step);
    ladle::testing::RandomLlamaOptions options;
    options.seed = seed;
    const NamedTensors tensors = ladle::testing::write_random_llama(checkpoint / "model", options);
    ladle::testing::write_text_file(checkpoint / trainer::kTrainerStateFile, "{\"step\": " + std::to_string(step) + "}\n");
    io::write_checksum_manifest(checkpoint);
    return tensors;
  }

  NamedTensors merged(const std::string& scheme, std::size_t last, const std::string& name = "out") const {
    merge_checkpoint_series(run(), merge::parse_series_weighting(scheme), last, dir_ / name);
    return io::CheckpointReader(dir_ / name).load_all();
  }

  std::filesystem::path dir_;
};

// wma over the last 3 of 4 checkpoints: weights 1/6, 2/6, 3/6 (i / (1 + 2 + 3)), oldest first.
TEST_F(CheckpointSeriesMergeTest, MergeIsTheHandWeightedSumOfTheLastCheckpoints) {
  write_checkpoint(2, 11);
  const NamedTensors a = write_checkpoint(4, 12);
  const NamedTensors b = write_checkpoint(6, 13);
  const NamedTensors c = write_checkpoint(8, 14);
  const NamedTensors result = merged("wma", 3);
  ASSERT_EQ(result.size(), a.size());
  for (const auto& [name, tensor] : result) {
    const at::Tensor expected = (a.at(name).to(at::kDouble) * (1.0 / 6) + b.at(name).to(at::kDouble) * (2.0 / 6) +
                                 c.at(name).to(at::kDouble) * (3.0 / 6));
    ASSERT_EQ(tensor.scalar_type(), at::kFloat) << name;
    // One rounding to fp32 of the fp64 sum: within half an fp32 ulp (2^-24 relative) of the exact value.
    EXPECT_LE((tensor.to(at::kDouble) - expected).abs().max().item<double>(),
              std::ldexp(1.0, -24) * expected.abs().max().item<double>() + 1e-12)
        << name;
  }
}

TEST_F(CheckpointSeriesMergeTest, IdenticalCheckpointsComeBackBitForBit) {
  NamedTensors original;
  for (const std::int64_t step : {1, 2, 3, 4, 5}) original = write_checkpoint(step, 7);
  for (const char* scheme : {"sma", "ema:0.3", "wma", "wsm:cosine", "wsm:sqrt"}) {
    const NamedTensors result = merged(scheme, 5, std::string("out-") + scheme);
    for (const auto& [name, tensor] : original) EXPECT_TRUE(at::equal(result.at(name), tensor)) << scheme << " " << name;
  }
}

// A checkpoint whose safetensors changed after its manifest, and a partial write, are not merged: the last 2 are
// steps 1 and 3.
TEST_F(CheckpointSeriesMergeTest, PassesOverCheckpointsThatFailTheirChecksumsOrAreIncomplete) {
  const NamedTensors first = write_checkpoint(1, 21);
  const NamedTensors third = write_checkpoint(3, 23);
  write_checkpoint(4, 24);
  {
    const std::filesystem::path corrupted = trainer::checkpoint_path(run(), 4) / "model" / "config.json";
    std::ofstream append(corrupted, std::ios::app);
    append << " ";
  }
  std::filesystem::create_directories(trainer::checkpoints_dir(run()) / "step-00000005.partial-123" / "model");
  const std::vector<SeriesCheckpoint> found = mergeable_checkpoints(run());
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].step, 1);
  EXPECT_EQ(found[1].step, 3);
  const NamedTensors result = merged("sma", 2);
  for (const auto& [name, tensor] : result) {
    const at::Tensor expected = (first.at(name).to(at::kDouble) + third.at(name).to(at::kDouble)) / 2;
    EXPECT_LE((tensor.to(at::kDouble) - expected).abs().max().item<double>(),
              std::ldexp(1.0, -24) * expected.abs().max().item<double>() + 1e-12)
        << name;
  }
}

TEST_F(CheckpointSeriesMergeTest, AskingForMoreCheckpointsThanExistNamesHowManyThereAre) {
  write_checkpoint(10, 1);
  write_checkpoint(20, 2);
  const std::string message = error_message([&] { merged("sma", 3); });
  EXPECT_TRUE(contains(message, "--last 3")) << message;
  EXPECT_TRUE(contains(message, "has 2 complete checkpoint(s) (steps 10, 20)")) << message;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out"));
}

TEST_F(CheckpointSeriesMergeTest, RefusesARunWithoutCheckpointsAndALoraCheckpoint) {
  EXPECT_TRUE(contains(error_message([&] { merged("sma", 1); }), "has no checkpoints/ folder"));
  const std::filesystem::path lora = trainer::checkpoint_path(run(), 3);
  std::filesystem::create_directories(lora / "adapter");
  ladle::testing::write_text_file(lora / trainer::kTrainerStateFile, "{}\n");
  EXPECT_TRUE(contains(error_message([&] { merged("sma", 1); }), "has no model/ folder"));
}

}  // namespace
}  // namespace ladle::callbacks
