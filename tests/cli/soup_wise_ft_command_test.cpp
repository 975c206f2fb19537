// `ladle soup` and `ladle wise-ft` on tiny Llama folders and held-out JSONL over the byte tokenizer.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "lib/io/checkpoint_reader.h"
#include "lib/model/causal_lm_factory.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;
using ladle::testing::run_ladle;

class AveragingCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("averaging-cli");
    for (std::uint64_t seed = 0; seed < 3; ++seed) {
      auto model = trainer::testing::tiny_model(0.0, seed);
      model::save_causal_lm(*model, path("m" + std::to_string(seed)));
    }
    trainer::testing::write_jsonl(path("valid.jsonl"), trainer::testing::tiny_records(6, 100));
    trainer::testing::write_jsonl(path("shifted.jsonl"), trainer::testing::tiny_records(6, 500));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  static NamedTensors load(const std::string& folder) { return io::CheckpointReader(folder).load_all(); }

  std::string dir_;
};

TEST_F(AveragingCliTest, SoupWritesTheUniformMeanOfTheModels) {
  const auto result = run_ladle({"--quiet", "soup", path("soup"), path("m0"), path("m1"), path("m2")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const NamedTensors soup = load(path("soup")), a = load(path("m0")), b = load(path("m1")), c = load(path("m2"));
  for (const auto& [name, tensor] : soup) {
    EXPECT_TRUE(at::equal(tensor, (a.at(name) + b.at(name) + c.at(name)) / 3.0)) << name;
  }
  EXPECT_TRUE(std::filesystem::exists(path("soup/config.json")));
}

// m0 and its exact copy score the same, so adding the copy does not strictly improve the soup; the random model
// m2 makes the held-out loss worse. The greedy soup is m0 alone.
TEST_F(AveragingCliTest, GreedySoupKeepsOnlyStrictImprovements) {
  std::filesystem::copy(path("m0"), path("copy"), std::filesystem::copy_options::recursive);
  const auto scaled = [&] {
    NamedTensors weights = load(path("m2"));
    for (auto& [name, tensor] : weights) tensor = tensor * 30.0;
    return weights;
  }();
  io::save_checkpoint(path("noisy"), scaled, nlohmann::json::parse(std::ifstream(path("m2/config.json"))));
  const auto result = run_ladle({"--quiet", "soup", path("greedy"), path("m0"), path("copy"), path("noisy"),
                                 "--greedy", "--valid", path("valid.jsonl"), "--tokenizer", "byte"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "soup of 1 ingredient(s)")) << result.out;
  const NamedTensors soup = load(path("greedy")), m0 = load(path("m0"));
  for (const auto& [name, tensor] : soup) EXPECT_TRUE(at::equal(tensor, m0.at(name))) << name;
}

TEST_F(AveragingCliTest, GreedySoupWithoutHeldOutDataIsAnError) {
  const auto result = run_ladle({"soup", path("out"), path("m0"), path("m1"), "--greedy"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "--greedy needs held-out data")) << result.err;
}

TEST_F(AveragingCliTest, WiseFtWithOneAlphaWritesTheInterpolation) {
  const auto result = run_ladle({"--quiet", "wise-ft", path("m0"), path("m1"), path("wise"), "--alpha", "0.25"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const NamedTensors wise = load(path("wise")), base = load(path("m0")), tuned = load(path("m1"));
  for (const auto& [name, tensor] : wise) {
    EXPECT_TRUE(at::allclose(tensor, 0.75 * base.at(name) + 0.25 * tuned.at(name), 1e-6, 1e-7)) << name;
  }
}

TEST_F(AveragingCliTest, WiseFtSweepWritesTableAndPlotAndTheChosenAlphasModel) {
  const auto result = run_ladle({"--quiet", "wise-ft", path("m0"), path("m1"), path("sweep"), "--alpha", "0,0.5,1",
                                 "--valid", path("valid.jsonl"), "--shifted", path("shifted.jsonl"), "--tokenizer",
                                 "byte"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* name : {"wise_ft.md", "wise_ft.tsv", "wise_ft.gp", "wise_ft.png", "config.json"}) {
    EXPECT_TRUE(std::filesystem::exists(path("sweep/") + name)) << name;
  }
  EXPECT_TRUE(contains(result.out, "| alpha |")) << result.out;
  std::smatch chosen;
  ASSERT_TRUE(std::regex_search(result.out, chosen, std::regex("chose alpha ([0-9.]+)"))) << result.out;
  const double alpha = std::stod(chosen[1]);
  const NamedTensors wise = load(path("sweep")), base = load(path("m0")), tuned = load(path("m1"));
  for (const auto& [name, tensor] : wise) {
    EXPECT_TRUE(at::allclose(tensor, (1 - alpha) * base.at(name) + alpha * tuned.at(name), 1e-6, 1e-7)) << name;
  }
}

TEST_F(AveragingCliTest, WiseFtSweepWithoutHeldOutDataIsAnError) {
  const auto result = run_ladle({"wise-ft", path("m0"), path("m1"), path("out")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "give exactly one --alpha")) << result.err;
}

}  // namespace
}  // namespace ladle::callbacks
