// The `ladle` executable's contract: help everywhere, one clear line and a non-zero exit on errors.
#include <gtest/gtest.h>

#include "tests/support/command_runner.h"

namespace ladle {
using testing::run_ladle;

TEST(Cli, VersionNamesLadleAndLibtorch) {
  auto result = run_ladle({"version"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("ladle 0."), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("libtorch 1."), std::string::npos) << result.out;
}

TEST(Cli, HelpListsTheSubcommands) {
  auto result = run_ladle({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("inspect"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("version"), std::string::npos) << result.out;
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* command : {"inspect", "version"}) {
    auto result = run_ladle({command, "--help"});
    EXPECT_EQ(result.exit_code, 0) << command;
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << command << ": " << result.out;
  }
}

TEST(Cli, UnknownSubcommandIsAUsageError) {
  auto result = run_ladle({"frobnicate"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_FALSE(result.err.empty());
}

TEST(Cli, MissingInputFileIsOneClearErrorLine) {
  auto result = run_ladle({"inspect", "/nonexistent/model.safetensors"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err.rfind("ladle: error: ", 0), 0u) << result.err;
  EXPECT_NE(result.err.find("/nonexistent/model.safetensors"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << result.err;
}

TEST(Cli, BadLogLevelIsAnError) {
  auto result = run_ladle({"--log-level", "loud", "version"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("loud"), std::string::npos) << result.err;
}

}  // namespace ladle
