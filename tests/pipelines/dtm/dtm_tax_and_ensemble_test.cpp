// `evaluation.knowledge` and `baselines.ensemble` end to end on the tiny fixture: every model is scored on the
// knowledge text, the report's alignment tax is each model's knowledge loss minus the base model's (checked here
// against the evaluation files), and the c-BTM ensemble of the k-means sub-models is evaluated and reported beside
// the merge.
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

double metric(const DtmFixture& fixture, const std::string& model, const std::string& name) {
  const auto json = nlohmann::json::parse(read_text_file(fixture.out("evaluate/" + model + ".json")));
  return json["metrics"][name].get<double>();
}

TEST(DtmTaxAndEnsemble, TheReportGivesKnowledgeLostAndTheEnsembleBesideTheMerge) {
  const DtmFixture fixture("dtm-tax", "{vanilla: true, random_split: false, uniform_soup: false, ensemble: true}");
  {
    std::ofstream knowledge(fixture.dir / "knowledge.txt");
    for (int paragraph = 0; paragraph < 12; ++paragraph) {
      knowledge << "Paragraph " << paragraph << " of the base model's own text: rivers run to the sea, and the "
                << "sea gives the rain back to the hills, " << paragraph * 7 << " times a year.\n\n";
    }
  }
  std::string text = read_text_file(fixture.dir / "dtm.yml");
  text.replace(text.find("evaluation: {valid: valid.jsonl,"), 32,
               "evaluation: {valid: valid.jsonl, knowledge: knowledge.txt,");
  std::ofstream(fixture.dir / "dtm.yml") << text;
  const auto result = fixture.dtm();
  ASSERT_EQ(result.exit_code, 0) << result.err;

  for (const std::string model : {"base", "vanilla", "dtm-kmeans", "ensemble"}) {
    EXPECT_GT(metric(fixture, model, "knowledge/examples"), 0) << model;
  }
  const std::string report = read_text_file(fixture.out("report/report.md"));
  const double base = metric(fixture, "base", "knowledge/loss");
  for (const std::string model : {"vanilla", "dtm-kmeans", "ensemble"}) {
    const double lost = metric(fixture, model, "knowledge/loss") - base;
    EXPECT_TRUE(contains(report, (lost >= 0 ? " +" : " ") + format_fixed(lost, 3) + " |")) << model << "\n" << report;
  }
  for (const std::string part : {"## Alignment tax", "knowledge lost (vs base)", "| c-BTM ensemble |",
                                 "The c-BTM ensemble of the k-means sub-models lowers", "tax.png"}) {
    EXPECT_TRUE(contains(report, part)) << part << " missing from\n" << report;
  }
  EXPECT_TRUE(contains(read_text_file(fixture.out("report/report.json")), "\"knowledge_lost\""));
}

}  // namespace
}  // namespace ladle::dtm
