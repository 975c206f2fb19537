// `ladle merge check` compares the models' tokenizers id by id before any tensor is read: real (tiny BPE)
// tokenizer.json files, one with added tokens or two ids swapped, against the output's tokenizer.
#include "lib/merge/token_vocabulary.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lib/merge/merge_check.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_tokenizer.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using ladle::testing::contains;
using ladle::testing::RandomLlamaOptions;

std::vector<std::string> base_tokens() { return ladle::testing::numbered_tokens(32); }

std::string tokenizer_json(const std::vector<std::string>& tokens, const std::vector<std::string>& added = {}) {
  return ladle::testing::tiny_tokenizer_json(tokens, added);
}

class TokenVocabularyCheckTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("token-vocabulary"); }
  void TearDown() override { fs::remove_all(dir_); }

  // A random model of `rows` vocabulary rows whose tokenizer.json is `tokenizer`.
  void model(const std::string& name, std::int64_t rows, const std::string& tokenizer) {
    RandomLlamaOptions options;
    options.vocab = rows;
    ladle::testing::write_random_llama(dir_ / name, options);
    ladle::testing::write_text_file(dir_ / name / "tokenizer.json", tokenizer);
    ladle::testing::write_text_file(dir_ / name / "special_tokens_map.json", "{}");  // the stand-in names <s>
  }
  MergeCheckReport check(const std::string& extra = "") {
    config_ = parse_merge_config("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n" +
                                     extra,
                                 "merge.yml", dir_);
    models_ = std::make_unique<InputModels>(config_);
    return check_merge(config_, *models_);
  }
  // The vocabulary findings of a severity about tokens (they name the tokenizer; those about row counts do not).
  static std::vector<CheckFinding> token_findings(const MergeCheckReport& report, CheckSeverity severity) {
    std::vector<CheckFinding> found;
    for (const auto& finding : report.findings) {
      if (finding.severity == severity && finding.topic == "vocabulary" && contains(finding.message, "tokenizer")) {
        found.push_back(finding);
      }
    }
    return found;
  }

  fs::path dir_;
  MergeConfig config_;
  std::unique_ptr<InputModels> models_;
};

TEST_F(TokenVocabularyCheckTest, VocabularyIsReadFromTheTokenizerFiles) {
  model("a", 32, tokenizer_json(base_tokens(), {"<|im_start|>"}));
  const auto vocabulary = read_token_vocabulary(dir_ / "a");
  ASSERT_TRUE(vocabulary.has_value());
  ASSERT_EQ(vocabulary->size(), 33u);
  EXPECT_EQ((*vocabulary)[5], "t5");
  EXPECT_EQ((*vocabulary)[32], "<|im_start|>");
  EXPECT_FALSE(read_token_vocabulary(dir_ / "missing").has_value());
}

TEST_F(TokenVocabularyCheckTest, SameTokenizersGiveNoTokenFindings) {
  model("a", 32, tokenizer_json(base_tokens()));
  model("b", 32, tokenizer_json(base_tokens()));
  const auto report = check();
  EXPECT_FALSE(report.has_errors()) << report.text();
  EXPECT_TRUE(token_findings(report, CheckSeverity::warning).empty()) << report.text();
}

TEST_F(TokenVocabularyCheckTest, AddedTokensOfAModelAreNamedAsDropped) {
  model("a", 32, tokenizer_json(base_tokens()));
  model("b", 34, tokenizer_json(base_tokens(), {"<|im_start|>", "<|im_end|>"}));
  const auto report = check();
  EXPECT_FALSE(report.has_errors()) << report.text();
  const auto warnings = token_findings(report, CheckSeverity::warning);
  ASSERT_EQ(warnings.size(), 1u) << report.text();
  EXPECT_TRUE(contains(warnings[0].message, "'b' has 2 token(s) beyond the 32 of the output's tokenizer"))
      << warnings[0].message;
  EXPECT_TRUE(contains(warnings[0].message, "id 32 '<|im_start|>', id 33 '<|im_end|>'")) << warnings[0].message;
  EXPECT_TRUE(contains(warnings[0].advice, "their rows are dropped")) << warnings[0].advice;
}

TEST_F(TokenVocabularyCheckTest, WithATokenizerSourceMissingTokensGetRowsInsteadOfAnError) {
  model("a", 32, tokenizer_json(base_tokens()));
  model("b", 34, tokenizer_json(base_tokens(), {"<|im_start|>", "<|im_end|>"}));
  const auto report = check("tokenizer_source: b\n");
  EXPECT_FALSE(report.has_errors()) << report.text();
  EXPECT_TRUE(contains(report.text(), "'a': 2 token(s) missing ('<|im_start|>', '<|im_end|>'): rows = from 'b', the "
                                      "only model that has them"))
      << report.text();
}

TEST_F(TokenVocabularyCheckTest, SwappedIdsAreAnErrorNamingThem) {
  std::vector<std::string> swapped = base_tokens();
  std::swap(swapped[3], swapped[4]);
  model("a", 32, tokenizer_json(base_tokens()));
  model("b", 32, tokenizer_json(swapped));
  const auto report = check();
  const auto errors = token_findings(report, CheckSeverity::error);
  ASSERT_EQ(errors.size(), 1u) << report.text();
  EXPECT_TRUE(contains(errors[0].message, "'b' gives 2 token id(s) other tokens than the output's tokenizer"))
      << errors[0].message;
  EXPECT_TRUE(contains(errors[0].message, "id 3 't4' (output: 't3'), id 4 't3' (output: 't4')")) << errors[0].message;
}

TEST_F(TokenVocabularyCheckTest, UnreadableTokenizersAreLeftToTheSizeComparison) {
  ladle::testing::write_random_llama(dir_ / "a");  // stand-in tokenizer.json files, not real tokenizers
  ladle::testing::write_random_llama(dir_ / "b");
  const auto report = check();
  EXPECT_FALSE(report.has_errors()) << report.text();
  EXPECT_TRUE(token_findings(report, CheckSeverity::warning).empty()) << report.text();
}

}  // namespace
}  // namespace ladle::merge
