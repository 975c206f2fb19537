// `ladle merge check` and `ladle merge` run the same validation (check_merge, which plans the merge and asks the
// method about every tensor) before any tensor is read: over every kind of bad merge config the suite tries, the
// check reports an error exactly when the merge refuses, and with the same error lines.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using ladle::testing::CommandResult;
using ladle::testing::RandomLlamaOptions;
using ladle::testing::run_ladle;

struct BadMerge {
  std::string name;  // the test's name
  std::string yaml;  // over the models every case has (see SetUp)
};

void PrintTo(const BadMerge& merge, std::ostream* out) { *out << merge.name; }

// The models are base, a, b (seeds 3, 1, 2), wide (hidden 20), big_vocab (36 rows), partial (b without
// model.norm.weight) and empty (a folder without a model).
const std::vector<BadMerge> kBadMerges = {
    {"UnknownMethod", "merge_method: linaer\nmodels: [{model: a, parameters: {weight: 1}}]\n"},
    {"UnknownKey", "merge_method: linear\nmodels:\n  - model: a\n    weight: 1\n"},
    {"WrongType", "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: heavy}\n"},
    {"TokenizerAndTokenizerSource",
     "merge_method: linear\nmodels: [{model: a}]\nparameters: {weight: 1}\ntokenizer_source: union\n"
     "tokenizer: {source: base}\n"},
    {"MissingWeight", "merge_method: linear\nmodels:\n  - {model: a, parameters: {weight: 1}}\n  - model: b\n"},
    {"UnknownParameter", "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1, densty: 0.5}\n"},
    {"MethodWideParameterPerModel",
     "merge_method: slerp\nbase_model: base\nmodels:\n  - model: a\n    parameters: {t: 0.5}\n"},
    {"DensityAboveOne",
     "merge_method: ties\nbase_model: base\nmodels:\n  - {model: a, parameters: {weight: 1, density: 1.5}}\n"},
    {"NegativeDensity",
     "merge_method: ties\nbase_model: base\nmodels: [{model: a}]\nparameters: {weight: 1, density: -0.2}\n"},
    {"NegativeEpsilon",
     "merge_method: della\nbase_model: base\nmodels:\n  - {model: a, parameters: {weight: 1, epsilon: -0.1}}\n"},
    {"DensityPlusEpsilonAboveOne",
     "merge_method: della\nbase_model: base\nmodels:\n"
     "  - {model: a, parameters: {weight: 1, density: 0.7, epsilon: 0.4}}\n"},
    {"LinearWeightsSumToZero",
     "merge_method: linear\nmodels:\n  - {model: a, parameters: {weight: 1}}\n  - {model: b, parameters: {weight: -1}}\n"},
    {"PassthroughOfTwoModels", "merge_method: passthrough\nmodels:\n  - model: a\n  - model: b\n"},
    {"ModelStockOfOneModel", "merge_method: model_stock\nbase_model: base\nmodels: [{model: a}]\n"},
    {"SlerpWithoutBase", "merge_method: slerp\nmodels: [{model: a}, {model: b}]\nparameters: {t: 0.5}\n"},
    {"FisherWithoutFisherFiles", "merge_method: fisher\nmodels: [{model: a}, {model: b}]\n"},
    {"MismatchedShapes", "merge_method: linear\nmodels: [{model: a}, {model: wide}]\nparameters: {weight: 1}\n"},
    {"MissingTensor", "merge_method: linear\nmodels: [{model: a}, {model: partial}]\nparameters: {weight: 1}\n"},
    {"TokenizerSourceWithoutAReadableTokenizer",
     "merge_method: linear\nbase_model: a\nmodels: [{model: a}, {model: big_vocab}]\nparameters: {weight: 1}\n"
     "tokenizer_source: base\n"},
    {"LayerRangeOutOfBounds",
     "merge_method: linear\nparameters: {weight: 1}\nslices:\n  - sources:\n      - {model: a, layer_range: [1, 3]}\n"},
    {"SlicesOfDifferentLengths",
     "merge_method: linear\nparameters: {weight: 1}\nslices:\n  - sources:\n"
     "      - {model: a, layer_range: [0, 2]}\n      - {model: b, layer_range: [0, 1]}\n"},
    {"UnreadableModels",
     "merge_method: linear\nmodels: [{model: a}, {model: empty}, {model: gone}]\nparameters: {weight: 1}\n"},
};

// What a refusal says: the report's error section when there is a report, else the one-line error.
std::string refusal(const CommandResult& result) {
  const std::string text = result.out + result.err;
  const auto begin = text.find("\nerrors (");
  if (begin == std::string::npos) return result.err;
  std::size_t end = text.size();
  for (const char* next : {"\nwarnings (", "\nnotes (", "\nresult:"}) end = std::min(end, text.find(next, begin + 1));
  return text.substr(begin + 1, end - begin);
}

class MergeCheckAgreementTest : public ::testing::TestWithParam<BadMerge> {
 protected:
  // The models are written once for all the cases (a failed merge leaves nothing behind).
  static void SetUpTestSuite() {
    dir_ = ladle::testing::make_temp_dir("merge-agreement");
    write("base", 3);
    write("a", 1);
    const NamedTensors b = write("b", 2);
    RandomLlamaOptions wide;
    wide.hidden = 20;
    ladle::testing::write_random_llama(dir_ / "wide", wide);
    RandomLlamaOptions big_vocab;
    big_vocab.vocab = 36;
    ladle::testing::write_random_llama(dir_ / "big_vocab", big_vocab);
    NamedTensors partial;
    for (const auto& [name, tensor] : b) {
      if (name != "model.norm.weight") partial.insert(name, tensor);
    }
    io::save_checkpoint(dir_ / "partial", partial, *io::CheckpointReader(dir_ / "b").config());
    fs::create_directories(dir_ / "empty");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void TearDown() override { fs::remove_all(dir_ / "out"); }

  static NamedTensors write(const std::string& name, std::uint64_t seed) {
    RandomLlamaOptions options;
    options.seed = seed;
    return ladle::testing::write_random_llama(dir_ / name, options);
  }
  static CommandResult check(const std::string& yaml) {
    ladle::testing::write_text_file(dir_ / "merge.yml", yaml);
    return run_ladle({"--quiet", "merge", "check", (dir_ / "merge.yml").string()});
  }
  static CommandResult merge(const std::string& yaml) {
    ladle::testing::write_text_file(dir_ / "merge.yml", yaml);
    return run_ladle({"--quiet", "merge", (dir_ / "merge.yml").string(), (dir_ / "out").string()});
  }

  static fs::path dir_;
};

fs::path MergeCheckAgreementTest::dir_;

TEST_P(MergeCheckAgreementTest, CheckReportsTheErrorsTheMergeRefusesWith) {
  const CommandResult checked = check(GetParam().yaml);
  const CommandResult merged = merge(GetParam().yaml);
  EXPECT_NE(merged.exit_code, 0) << "the merge accepted a bad config:\n" << merged.out << merged.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_NE(checked.exit_code, 0) << "the check passed a config the merge refuses:\n" << checked.out << checked.err
                                  << "merge said:\n" << merged.err;
  EXPECT_FALSE(refusal(merged).empty());
  EXPECT_EQ(refusal(checked), refusal(merged)) << "check:\n" << checked.out << checked.err << "merge:\n" << merged.err;
}

INSTANTIATE_TEST_SUITE_P(BadMergeConfigs, MergeCheckAgreementTest, ::testing::ValuesIn(kBadMerges),
                         [](const ::testing::TestParamInfo<BadMerge>& info) { return info.param.name; });

// The control: a config both accept.
TEST_F(MergeCheckAgreementTest, CheckAndMergeBothAcceptAGoodConfig) {
  const std::string yaml = "merge_method: ties\nbase_model: base\nmodels: [{model: a}, {model: b}]\n"
                           "parameters: {weight: 1, density: 0.5}\n";
  const CommandResult checked = check(yaml);
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
  const CommandResult merged = merge(yaml);
  EXPECT_EQ(merged.exit_code, 0) << merged.err;
}

}  // namespace
}  // namespace ladle::merge
