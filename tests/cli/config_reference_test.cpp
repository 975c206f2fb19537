// `ladle train --help-config`: the reference generated from the training config's declarations, and
// docs/config.md kept equal to its Markdown form.
#include <gtest/gtest.h>

#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle::cli {
namespace {

using ladle::testing::contains;

TEST(TrainConfigHelp, DocsConfigMdIsTheGeneratedReference) {
  const auto result = ladle::testing::run_ladle({"train", "--help-config", "--markdown"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, ladle::testing::read_text_file(std::string(LADLE_SOURCE_DIR) + "/docs/config.md"))
      << "docs/config.md is out of date: regenerate it with `ladle train --help-config --markdown > docs/config.md`";
}

// The defaults shown are the structs' declared ones (trainer/train_config.h), the ranges the declared ones.
TEST(TrainConfigHelp, ListsEveryKeyWithItsTypeRangeAndDefault) {
  const auto result = ladle::testing::run_ladle({"train", "--help-config"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "  optimizer.lr  (a number > 0; default: 0.001)\n")) << result.out;
  EXPECT_TRUE(contains(result.out, "  optimizer.betas  (a list of 2 numbers in [0, 1); default: [0.9, 0.999])\n"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "  schedule.name  (one of constant, linear, cosine; default: constant)\n"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "  online_merging.operator  (one of ondare, onties; default: ondare)\n"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "  lora.target_modules  (a list of strings; default: [q_proj, v_proj])\n"))
      << result.out;
}

}  // namespace
}  // namespace ladle::cli
