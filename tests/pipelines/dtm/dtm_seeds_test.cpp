// `seeds: [0, 1]`: every method runs once per seed with its own folders and seeds, the report averages each method
// over its seeds (checked here against the evaluation files) and gives intervals, and a rerun reuses every run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/util/human_format.h"
#include "tests/pipelines/dtm/dtm_fixture.h"
#include "tests/support/test_helpers.h"

namespace ladle::dtm {
namespace {

using ladle::testing::contains;
using ladle::testing::read_text_file;

nlohmann::json evaluation(const DtmFixture& fixture, const std::string& model) {
  return nlohmann::json::parse(read_text_file(fixture.out("evaluate/" + model + ".json")));
}

TEST(DtmSeeds, EveryMethodRunsOncePerSeedAndTheReportAveragesThem) {
  const DtmFixture fixture("dtm-seeds", "{vanilla: true, random_split: false, uniform_soup: false}");
  std::ofstream(fixture.dir / "dtm.yml", std::ios::app) << "seeds: [0, 1]\n";
  const auto first = fixture.dtm();
  ASSERT_EQ(first.exit_code, 0) << first.err;

  // Seed 0 keeps the one-seed names; seed 1 has its own partitions, runs, merge and evaluations.
  for (const std::string part : {"cluster/kmeans", "cluster-seed1/kmeans", "runs/kmeans-0-seed1/dtm-run.json",
                                 "runs/vanilla-seed1/dtm-run.json", "merge/kmeans-seed1", "evaluate/vanilla-seed1.json",
                                 "evaluate/dtm-kmeans-seed1.json"}) {
    EXPECT_TRUE(std::filesystem::exists(fixture.out(part))) << part;
  }
  EXPECT_FALSE(std::filesystem::exists(fixture.out("evaluate/base-seed1.json"))) << "the base model is evaluated once";
  EXPECT_NE(fixture.run_record("vanilla")["seed"], fixture.run_record("vanilla-seed1")["seed"]);
  EXPECT_NE(fixture.run_record("kmeans-0")["seed"], fixture.run_record("kmeans-0-seed1")["seed"]);
  const auto kmeans_seed = [&](const std::string& folder) {
    return nlohmann::json::parse(read_text_file(fixture.out(folder + "/kmeans/report.json")))["settings"]["seed"];
  };
  EXPECT_EQ(kmeans_seed("cluster-seed1").get<int>(), kmeans_seed("cluster").get<int>() + 1);

  // The tables show each method's mean over its seeds.
  const std::string report = read_text_file(fixture.out("report/report.md"));
  for (const std::string method : {"vanilla", "dtm-kmeans"}) {
    const double mean = (evaluation(fixture, method)["metrics"]["valid/loss"].get<double>() +
                         evaluation(fixture, method + "-seed1")["metrics"]["valid/loss"].get<double>()) /
                        2;
    EXPECT_TRUE(contains(report, " " + format_fixed(mean, 3) + " |")) << method << " " << mean << "\n" << report;
  }
  for (const std::string part : {"## Seeds and confidence", "| vanilla | 2 |", "| DTM (k-means) | 2 |", "| base | 1 |",
                                 "loss − vanilla's", "paired bootstrap", " ± "}) {
    EXPECT_TRUE(contains(report, part)) << part << " missing from\n" << report;
  }

  // A rerun trains nothing and writes the same report.
  const auto second = fixture.dtm();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(contains(second.err, "0 of 6 runs to train")) << second.err;
  EXPECT_EQ(read_text_file(fixture.out("report/report.md")), report);
}

TEST(DtmSeeds, AnEmptyRepeatedOrNegativeSeedListIsRejectedNamingTheKey) {
  const DtmFixture fixture("dtm-seeds-config", kNoBaselines);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"seeds: []", "seeds: expected at least one seed"},
      {"seeds: [1, 1]", "seeds: expected distinct seeds"},
      {"seeds: [-1]", "seeds[0]: expected a whole number in [0, 1000000], got -1"}};
  for (const auto& [seeds, expected] : cases) {
    std::ofstream(fixture.dir / "dtm.yml", std::ios::app) << seeds << "\n";
    const auto result = fixture.dtm({"--until", "embed"});
    EXPECT_EQ(result.exit_code, 1) << seeds;
    EXPECT_TRUE(contains(result.err, expected)) << seeds << ": " << result.err;
    std::string text = read_text_file(fixture.dir / "dtm.yml");
    text.erase(text.rfind("seeds:"));
    std::ofstream(fixture.dir / "dtm.yml") << text;
  }
}

}  // namespace
}  // namespace ladle::dtm
