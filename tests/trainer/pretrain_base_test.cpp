// scripts/pretrain-base.sh, the recipe of the project's default base model, end to end on a small corpus (two
// license texts every Debian system ships) with a short run: the folder it writes is a complete Hugging Face
// model with the corpus's tokenizer, the model learned something, and re-running leaves a complete folder alone
// but rebuilds an incomplete one.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lib/model/causal_lm.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle {
namespace {

using ladle::testing::read_text_file;

using testing::contains;
namespace fs = std::filesystem;

constexpr std::int64_t kVocabSize = 600;  // what sentencepiece can fit to ~35 KB of text

class PretrainBaseScriptTest : public ::testing::Test {
 protected:
  // One short pretraining run shared by the suite: the script is what is tested, and each run costs seconds.
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::make_temp_dir("pretrain-base"));
    fs::create_directories(data() / "corpus");
    fs::copy_file("/usr/share/common-licenses/GPL-3", data() / "corpus" / "train.txt");
    fs::copy_file("/usr/share/common-licenses/GPL-2", data() / "corpus" / "valid.txt");
    first_run_ = new testing::CommandResult(run_script(out(), {"max_steps=20", "schedule.warmup_steps=2"}));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete first_run_;
    delete dir_;
  }

  // The script with the test's ladle, the small corpus and a smaller run than the recipe's (`sets` come last).
  static testing::CommandResult run_script(const fs::path& out_dir, std::vector<std::string> sets) {
    std::vector<std::string> args = {"LADLE=" + std::string(LADLE_CLI_PATH),
                                     "bash",
                                     std::string(LADLE_SOURCE_DIR) + "/scripts/pretrain-base.sh",
                                     "--data",
                                     data().string(),
                                     "--out",
                                     out_dir.string()};
    sets.insert(sets.begin(), {"threads=1", "batch_size=4", "tokenizer.vocab_size=" + std::to_string(kVocabSize)});
    for (const auto& set : sets) args.insert(args.end(), {"--set", set});
    return testing::run_command("env", args);
  }
  static fs::path data() { return fs::path(*dir_) / "data"; }
  static fs::path out() { return fs::path(*dir_) / "base-model"; }

  static std::string* dir_;
  static testing::CommandResult* first_run_;
};

std::string* PretrainBaseScriptTest::dir_ = nullptr;
testing::CommandResult* PretrainBaseScriptTest::first_run_ = nullptr;

TEST_F(PretrainBaseScriptTest, WritesALlamaFolderWithTheTokenizerItTrainedOnTheCorpus) {
  ASSERT_EQ(first_run_->exit_code, 0) << first_run_->out << first_run_->err;
  EXPECT_FALSE(fs::exists(out().string() + ".partial")) << "the run's working folder is left behind";
  const auto model = model::load_causal_lm(out());
  EXPECT_EQ(model->config().architecture, "LlamaForCausalLM");
  EXPECT_EQ(model->config().vocab_size, kVocabSize);
  // The tokenizer shipped in the folder is the one trained on DATA/corpus and kept in DATA for other runs.
  EXPECT_EQ(read_text_file(out() / "tokenizer.model"), read_text_file(data() / "tokenizer.model"));
  EXPECT_EQ(text::SentencePieceTokenizer(out() / "tokenizer.model").vocab_size(), kVocabSize);

  const auto inspect = testing::run_command(LADLE_CLI_PATH, {"inspect", out().string(), "--summary", "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto summary = nlohmann::json::parse(inspect.out);
  EXPECT_TRUE(summary.at("valid").get<bool>());
  std::int64_t parameters = 0;
  for (const auto& parameter : model->parameters()) parameters += parameter.numel();
  EXPECT_EQ(summary.at("parameters").get<std::int64_t>(), parameters);
}

TEST_F(PretrainBaseScriptTest, HeldOutLossIsBelowUniformGuessing) {
  ASSERT_EQ(first_run_->exit_code, 0) << first_run_->err;
  std::ifstream metrics(out() / "pretrain_metrics.jsonl");
  nlohmann::json last_eval;
  for (std::string line; std::getline(metrics, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.at("kind") == "eval") last_eval = record;
  }
  ASSERT_TRUE(last_eval.contains("eval/loss")) << "no evaluation in pretrain_metrics.jsonl";
  // A model that learned nothing predicts every piece with probability 1/V: loss ln V.
  EXPECT_LT(last_eval.at("eval/loss").get<double>(), std::log(static_cast<double>(kVocabSize)) - 0.5);
}

TEST_F(PretrainBaseScriptTest, LeavesACompleteFolderAlone) {
  ASSERT_EQ(first_run_->exit_code, 0) << first_run_->err;
  const auto written = fs::last_write_time(out() / "model.safetensors");
  const auto again = run_script(out(), {});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(contains(again.out, "nothing to do")) << again.out;
  EXPECT_EQ(fs::last_write_time(out() / "model.safetensors"), written);
}

TEST_F(PretrainBaseScriptTest, RebuildsAFolderMissingItsTokenizer) {
  ASSERT_EQ(first_run_->exit_code, 0) << first_run_->err;
  const fs::path incomplete = fs::path(*dir_) / "incomplete";
  fs::copy(out(), incomplete);
  fs::remove(incomplete / "tokenizer.model");
  const auto rebuilt = run_script(incomplete, {"max_steps=1"});
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
  EXPECT_TRUE(contains(rebuilt.out, "replacing the incomplete")) << rebuilt.out;
  EXPECT_TRUE(fs::exists(incomplete / "tokenizer.model"));
  EXPECT_EQ(model::load_causal_lm(incomplete)->config().vocab_size, kVocabSize);
}

}  // namespace
}  // namespace ladle
