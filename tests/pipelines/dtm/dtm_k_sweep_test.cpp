// `cluster.k: [1, 2, 3]`: a K sweep end to end on the tiny fixture. Every K > 1 has its own clustering, sub-models
// and merge under "-k<K>" names, each with vanilla's total steps; K = 1 is vanilla's run (trained once, no clustering)
// and its row of the report's K table carries vanilla's own numbers (read here from its evaluation file).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/util/human_format.h"
#include "pipelines/dtm/dtm_config.h"
#include "tests/pipelines/dtm/dtm_fixture.h"
#include "tests/support/test_helpers.h"

namespace ladle::dtm {
namespace {

namespace fs = std::filesystem;
using ladle::testing::contains;
using ladle::testing::read_text_file;

double valid_loss(const DtmFixture& fixture, const std::string& model) {
  const auto json = nlohmann::json::parse(read_text_file(fixture.out("evaluate/" + model + ".json")));
  return json["metrics"]["valid/loss"].get<double>();
}

TEST(DtmKSweep, EveryKTrainsItsOwnSubModelsAndKOneIsVanilla) {
  const DtmFixture fixture("dtm-k-sweep", "{vanilla: true, random_split: false, uniform_soup: false}");
  std::string text = read_text_file(fixture.dir / "dtm.yml");
  text.replace(text.find("cluster: {k: 2,"), 15, "cluster: {k: [1, 2, 3],");
  // Every sub-model of K = 3 logs two training losses at least (the report's loss-decrease diagnostic needs them).
  text.replace(text.find("total_steps: 8"), 14, "total_steps: 24");
  std::ofstream(fixture.dir / "dtm.yml") << text;
  const auto result = fixture.dtm();
  ASSERT_EQ(result.exit_code, 0) << result.err;

  const std::int64_t vanilla_steps = fixture.run_record("vanilla")["steps"].get<std::int64_t>();
  for (const int k : {2, 3}) {
    std::int64_t steps = 0, records = 0;
    for (int c = 0; c < k; ++c) {
      const std::string run = "kmeans-k" + std::to_string(k) + "-" + std::to_string(c);
      steps += fixture.run_record(run)["steps"].get<std::int64_t>();
      records += static_cast<std::int64_t>(
          line_count(fixture.out("cluster-k" + std::to_string(k) + "/kmeans/cluster-" + std::to_string(c) + ".jsonl")));
    }
    EXPECT_EQ(steps, vanilla_steps) << "K = " << k << ": the same compute as vanilla";
    EXPECT_EQ(records, 24) << "K = " << k;
    EXPECT_TRUE(fs::exists(fixture.out("merge/kmeans-k" + std::to_string(k))));
  }
  for (const std::string absent : {"cluster", "cluster-k1", "runs/kmeans-k1-0", "runs/kmeans-0", "merge/kmeans"}) {
    EXPECT_FALSE(fs::exists(fixture.out(absent))) << absent;
  }

  const std::string report = read_text_file(fixture.out("report/report.md"));
  EXPECT_TRUE(contains(report, "## K sweep")) << report;
  EXPECT_TRUE(contains(report, "| 1 | vanilla | " + format_fixed(valid_loss(fixture, "vanilla"), 3) + " | "))
      << report;
  EXPECT_TRUE(contains(report, "| 2 | DTM (k-means, K=2) | " + format_fixed(valid_loss(fixture, "dtm-kmeans-k2"), 3)))
      << report;
  EXPECT_TRUE(contains(report, "| 3 | DTM (k-means, K=3) | " + format_fixed(valid_loss(fixture, "dtm-kmeans-k3"), 3)))
      << report;
  EXPECT_TRUE(fs::exists(fixture.out("report/k-sweep.tsv")));

  // A second run reuses every K's stages.
  const auto second = fixture.dtm();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(contains(second.err, "0 of 6 runs to train")) << second.err;
}

TEST(DtmKSweep, AScalarStillWorksAndABadListIsRejectedNamingTheKey) {
  const DtmFixture fixture("dtm-k-sweep-config", kNoBaselines);
  const std::string head = "train: {model: {path: base}, tokenizer: {type: byte}, data: {train: train.jsonl}}\n"
                           "evaluation: {valid: valid.jsonl}\n";
  const DtmConfig scalar = DtmConfig::from_yaml(head + "cluster: {k: 3}\n", "dtm.yml", fixture.dir);
  EXPECT_EQ(scalar.cluster.k, std::vector<std::int64_t>{3});
  EXPECT_FALSE(scalar.cluster.sweep());
  const DtmConfig sweep = DtmConfig::from_yaml(head + "cluster: {k: [2, 4]}\n", "dtm.yml", fixture.dir);
  EXPECT_EQ(sweep.cluster.trained_k(), (std::vector<std::int64_t>{2, 4}));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cluster: {k: [2, 2]}\n", "dtm.yml:4: cluster.k: expected distinct Ks"},
      {"cluster: {k: []}\n", "dtm.yml:4: cluster.k: expected at least one K"},
      {"cluster: {k: [2, 0]}\n", "cluster.k[1]: expected a whole number >= 1, got 0"},
      {"cluster: {k: [1, 2]}\n", "dtm.yml:4: cluster.k: K = 1 of a sweep is vanilla fine-tuning: turn on "
                                 "baselines.vanilla"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string message = dtm_config_error(fixture, head + "baselines: {vanilla: false}\n" + text);
    EXPECT_TRUE(contains(message, expected)) << "config:\n" << text << "message: " << message;
  }
}

}  // namespace
}  // namespace ladle::dtm
