// The DTM step budget: the sub-models' steps sum to total_steps exactly (Hamilton's largest remainder), each
// non-empty cluster trains at least one step, and a budget below K is refused before any stage runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <vector>

#include "lib/model/causal_lm_factory.h"
#include "lib/util/error.h"
#include "pipelines/dtm/dtm_runs.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"

namespace ladle::dtm {
namespace {

namespace fs = std::filesystem;

std::int64_t sum_of(const std::vector<std::int64_t>& values) {
  return std::accumulate(values.begin(), values.end(), std::int64_t{0});
}

TEST(DtmStepsPerCluster, SharesThatAllRoundUpStillSumToTheBudget) {
  // 16 equal clusters and 24 steps: every exact share is 1.5, so rounding each gives 32 steps; the budget is 24.
  const std::vector<std::int64_t> steps = steps_per_cluster(std::vector<std::int64_t>(16, 5), 24);
  EXPECT_EQ(sum_of(steps), 24);
  EXPECT_EQ(std::vector<std::int64_t>(steps.begin(), steps.begin() + 8), std::vector<std::int64_t>(8, 2));
  EXPECT_EQ(std::vector<std::int64_t>(steps.begin() + 8, steps.end()), std::vector<std::int64_t>(8, 1));
  // Shares 3.75, 3.75, 2.5: floors 3, 3, 2 and the two leftover steps to the two largest remainders.
  EXPECT_EQ(steps_per_cluster({3, 3, 2}, 10), (std::vector<std::int64_t>{4, 4, 2}));
}

TEST(DtmStepsPerCluster, EveryNonEmptyClusterTrainsAndEmptyOnesDoNot) {
  // Shares 9.9, 0.099, 0: the small cluster still trains one step, taken from the large one.
  EXPECT_EQ(steps_per_cluster({100, 1, 0}, 10), (std::vector<std::int64_t>{9, 1, 0}));
  EXPECT_THROW(steps_per_cluster({5, 5, 5}, 2), Error);
}

TEST(DtmStepsPerCluster, RandomSizesSumExactlyAndStayWithinOneStepOfTheExactShare) {
  std::mt19937_64 random(7);
  for (int trial = 0; trial < 500; ++trial) {
    const std::size_t k = 1 + random() % 12;
    std::vector<std::int64_t> sizes(k);
    for (auto& size : sizes) size = 1 + static_cast<std::int64_t>(random() % 1000);
    const std::int64_t total = static_cast<std::int64_t>(k) * 4 + static_cast<std::int64_t>(random() % 5000);
    const std::vector<std::int64_t> steps = steps_per_cluster(sizes, total);
    ASSERT_EQ(sum_of(steps), total);
    const double points = static_cast<double>(sum_of(sizes));
    for (std::size_t c = 0; c < k; ++c) {
      const double share = static_cast<double>(total) * static_cast<double>(sizes[c]) / points;
      EXPECT_GE(steps[c], 1);
      if (share >= 1.0) {
        EXPECT_LT(std::abs(static_cast<double>(steps[c]) - share), 1.0) << "cluster " << c;
      }
    }
  }
}

TEST(DtmPipeline, ABudgetBelowKIsRefusedBeforeAnyStage) {
  const fs::path dir = ladle::testing::make_temp_dir("dtm-budget");
  model::save_causal_lm(*trainer::testing::tiny_model(), dir / "base");
  trainer::testing::write_jsonl(dir / "train.jsonl", trainer::testing::tiny_records(12));
  trainer::testing::write_jsonl(dir / "valid.jsonl", trainer::testing::tiny_records(4, 1000));
  std::ofstream(dir / "dtm.yml")
      << "output_dir: out\ntotal_steps: 2\n"
         "train: {model: {path: base}, tokenizer: {type: byte}, data: {train: train.jsonl}}\n"
         "cluster: {k: 3}\nevaluation: {valid: valid.jsonl}\n";
  const auto result = ladle::testing::run_ladle({"dtm", "--config", (dir / "dtm.yml").string()});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(ladle::testing::contains(result.err, "total_steps: 2 steps cannot train 3 sub-models")) << result.err;
  EXPECT_FALSE(fs::exists(dir / "out" / "embed"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ladle::dtm
