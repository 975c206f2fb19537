// `ladle evaluate` on tiny Llama folders and held-out JSONL over the byte tokenizer: its JSON lines against the
// HeldOutEvaluator run in-process on the same folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/model/causal_lm_factory.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"
#include "trainer/heldout_evaluator.h"

namespace ladle::cli {
namespace {

using ladle::testing::contains;
using ladle::testing::run_ladle;
using nlohmann::json;

class EvaluateCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("evaluate-cli");
    model::save_causal_lm(*trainer::testing::tiny_model(0.0, 0), path("m0"));
    model::save_causal_lm(*trainer::testing::tiny_model(0.0, 1), path("m1"));
    // "echo" replies take 8 distinct values (candidates: choice accuracy), "add" replies more (exact match).
    trainer::testing::write_jsonl(path("valid.jsonl"), trainer::testing::tiny_records(40, 100));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // The JSON lines `ladle evaluate ARGS --output lines.jsonl` wrote.
  std::vector<json> evaluate(std::vector<std::string> args) const {
    std::vector<std::string> command = {"--quiet", "evaluate", "--data", path("valid.jsonl"), "--tokenizer", "byte",
                                        "--output", path("lines.jsonl")};
    command.insert(command.end(), args.begin(), args.end());
    const auto result = run_ladle(command);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    std::vector<json> lines;
    std::ifstream in(path("lines.jsonl"));
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    return lines;
  }

  std::string dir_;
};

TEST_F(EvaluateCommandTest, TheSameFolderUnderTwoLabelsGivesIdenticalLines) {
  auto lines = evaluate({"--label", "first=" + path("m0"), "--label", "second=" + path("m0")});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].at("label"), "first");
  EXPECT_EQ(lines[1].at("label"), "second");
  lines[0].erase("label");
  lines[1].erase("label");
  EXPECT_EQ(lines[0], lines[1]);
}

TEST_F(EvaluateCommandTest, PerTaskLossesAndAccuraciesAreTheHeldOutEvaluators) {
  const auto lines = evaluate({path("m1"), "--max-examples", "24", "--generation-examples", "16", "--seed", "3",
                               "--batch-size", "5"});
  ASSERT_EQ(lines.size(), 1u);
  trainer::HeldOutEvaluationOptions options;
  options.max_examples = 24;
  options.generation_examples = 16;
  options.seed = 3;
  options.batch_size = 5;
  options.chat_format = trainer::load_heldout_chat_format(path("m1"), "byte");
  const trainer::HeldOutEvaluator evaluator(trainer::load_heldout_tokenizer(path("m1"), "byte"),
                                            {{"direct", path("valid.jsonl")}}, options);
  const auto metrics = evaluator.evaluate(*model::load_causal_lm(path("m1")));
  const json& line = lines[0];
  EXPECT_EQ(line.at("label"), path("m1"));
  EXPECT_EQ(line.at("loss").get<double>(), metrics.at("direct/loss"));
  EXPECT_EQ(line.at("examples").get<double>(), 24);
  ASSERT_EQ(line.at("per_task").size(), 2u);
  for (const std::string task : {"add", "echo"}) {
    EXPECT_EQ(line.at("per_task").at(task).get<double>(), metrics.at("direct/loss/" + task)) << task;
  }
  // echo's 8 distinct replies become its candidates; add's replies are too many, so it is scored by exact match.
  EXPECT_EQ(line.at("accuracy_kind").at("echo"), "choice_accuracy");
  EXPECT_EQ(line.at("accuracy").at("echo").get<double>(), metrics.at("direct/choice_accuracy/echo"));
  EXPECT_EQ(line.at("accuracy_kind").at("add"), "exact_match");
  EXPECT_EQ(line.at("accuracy").at("add").get<double>(), metrics.at("direct/exact_match/add"));
}

TEST_F(EvaluateCommandTest, WithoutGenerationExamplesLinesHaveLossesOnly) {
  const auto lines = evaluate({path("m0"), "--generation-examples", "0"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("per_task").size(), 2u);
  EXPECT_TRUE(lines[0].at("accuracy").empty());
  EXPECT_TRUE(lines[0].at("accuracy_kind").empty());
}

TEST_F(EvaluateCommandTest, PrintsATableWithAColumnPerModel) {
  const auto result = run_ladle({"--quiet", "evaluate", path("m0"), "--label", "other=" + path("m1"), "--data",
                                 path("valid.jsonl"), "--tokenizer", "byte", "--generation-examples", "8"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "| task (heldout: loss / accuracy) | " + path("m0") + " | other |")) << result.out;
  EXPECT_TRUE(contains(result.out, "| echo |")) << result.out;
  EXPECT_TRUE(contains(result.out, "| add |")) << result.out;
}

TEST_F(EvaluateCommandTest, ARepeatedLabelIsRefusedBeforeAnyEvaluation) {
  const auto result = run_ladle({"evaluate", "--label", "a=" + path("m0"), "--label", "a=" + path("m1"), "--data",
                                 path("valid.jsonl"), "--tokenizer", "byte", "--output", path("lines.jsonl")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "the label 'a' names two models")) << result.err;
  EXPECT_FALSE(std::filesystem::exists(path("lines.jsonl")));
}

}  // namespace
}  // namespace ladle::cli
