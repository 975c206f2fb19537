// `ladle merge --help-config`: the merge YAML's reference generated from the keys' declarations and the methods'
// parameter declarations, and docs/merge-config.md kept equal to its Markdown form.
#include <gtest/gtest.h>

#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle::cli {
namespace {

using ladle::testing::contains;

TEST(MergeConfigHelp, DocsMergeConfigMdIsTheGeneratedReference) {
  const auto result = ladle::testing::run_ladle({"merge", "--help-config", "--markdown"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, ladle::testing::read_text_file(std::string(LADLE_SOURCE_DIR) + "/docs/merge-config.md"))
      << "docs/merge-config.md is out of date: regenerate it with "
         "`ladle merge --help-config --markdown > docs/merge-config.md`";
}

// The ranges shown are the ones the methods declare (lib/merge/methods/), the defaults theirs.
TEST(MergeConfigHelp, ListsKeysAndEachMethodsParametersWithRangeAndDefault) {
  const auto result = ladle::testing::run_ladle({"merge", "--help-config"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "  models[].model  (a model path; default: none)\n")) << result.out;
  EXPECT_TRUE(contains(result.out, "  ties.parameters.density  (a number in [0, 1]; default: 1.0)\n")) << result.out;
  EXPECT_TRUE(contains(result.out, "  della.parameters.epsilon  (a number in [0, 0.5); default: 0.15)\n"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "  slerp.parameters.t  (a number in [0, 1], or outside to extrapolate (with a "
                                   "warning); default: none)\n"))
      << result.out;
}

}  // namespace
}  // namespace ladle::cli
