// The `ladle` executable's contract: help everywhere, one clear line and a non-zero exit on errors.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

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
  for (const char* command : {"version", "inspect", "tokenizer", "merge", "extract-lora", "cluster", "train", "soup",
                              "wise-ft", "dtm", "evolve", "evaluate"}) {
    auto result = run_ladle({command, "--help"});
    EXPECT_EQ(result.exit_code, 0) << command;
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << command << ": " << result.out;
  }
}

// A usage error is one line on stderr with the prefix, saying what is wrong, and exit status 2.
TEST(Cli, UsageErrorsAreOnePrefixedLineWithExitStatus2) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"frobnicate"}, "unknown command 'frobnicate'; commands: version, inspect"},
      {{"mrege", "x"}, "unknown command 'mrege' (did you mean 'merge'?)"},
      {{}, "A subcommand is required"},
      {{"--threads", "abc", "version"}, "--threads = abc"},
      {{"--log-level", "loud", "version"}, "loud"},
      {{"train"}, "--config (or --list-callbacks) is required (see 'ladle train --help')"},
      {{"soup", "OUT", "one-model"}, "At least 2 required but received 1 (see 'ladle soup --help')"},
      {{"merge", "--bogus", "x", "y"}, "not expected: --bogus"},
  };
  for (const auto& [args, expected] : cases) {
    const auto result = run_ladle(args);
    const std::string shown = args.empty() ? "(no arguments)" : args.front();
    EXPECT_EQ(result.exit_code, 2) << shown << ": " << result.err;
    EXPECT_EQ(result.err.rfind("ladle: error: ", 0), 0u) << shown << ": " << result.err;
    EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << shown << ": " << result.err;
    EXPECT_NE(result.err.find(expected), std::string::npos) << shown << ": " << result.err;
  }
}

TEST(Cli, MissingInputFileIsOneClearErrorLine) {
  auto result = run_ladle({"inspect", "/nonexistent/model.safetensors"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err.rfind("ladle: error: ", 0), 0u) << result.err;
  EXPECT_NE(result.err.find("/nonexistent/model.safetensors"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << result.err;
}

}  // namespace ladle
