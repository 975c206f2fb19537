#include "lib/log/log.h"

#include "lib/log/log_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::log {

TEST(Logging, ParsesEveryLevelNameAndRejectsOthers) {
  EXPECT_EQ(parse_level("trace"), Level::trace);
  EXPECT_EQ(parse_level("warn"), Level::warning);
  EXPECT_EQ(parse_level("error"), Level::error);
  EXPECT_THROW(parse_level("loud"), ladle::Error);
}

TEST(Logging, FileSinkReceivesRecordsAtItsLevelWithSeverityAndTimestamp) {
  const auto dir = ladle::testing::make_temp_dir("log");
  const auto file = dir + "/run.log";
  LoggingOptions options;
  options.console_level = Level::error;
  options.file = file;
  options.file_level = Level::debug;
  configure_logging(options);
  LADLE_LOG(debug) << "debug record " << 42;
  LADLE_LOG(trace) << "trace record";
  configure_logging(LoggingOptions{});
  std::ifstream in(file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("[debug] debug record 42"), std::string::npos) << text;
  EXPECT_EQ(text.find("trace record"), std::string::npos) << text;
  EXPECT_EQ(text.rfind("20", 0), 0u) << text;  // each record starts with its timestamp, e.g. 2026-11-24 ...
  std::filesystem::remove_all(dir);
}

TEST(Logging, DisabledLevelsAreNotFormatted) {
  LoggingOptions options;
  options.console_level = Level::warning;
  configure_logging(options);
  int evaluated = 0;
  auto count = [&evaluated] { return ++evaluated; };
  LADLE_LOG(debug) << count();
  EXPECT_EQ(evaluated, 0);
  configure_logging(LoggingOptions{});
}

// /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
TEST(Logging, ALogFileThatCannotBeWrittenFailsWhenItIsConfigured) {
  LoggingOptions options;
  options.console_level = Level::error;
  options.file = "/dev/full";
  EXPECT_EQ(ladle::testing::error_message([&] { configure_logging(options); }),
            "/dev/full: cannot write the log: No space left on device");
  configure_logging(LoggingOptions{});
  EXPECT_NO_THROW(check_log_file());
}

TEST(Logging, AFailedWriteLaterIsReportedByCheckLogFile) {
  LoggingOptions options;
  options.console_level = Level::error;
  options.file = "/dev/full";
  options.file_level = Level::warning;  // no first record at configuration: the first write is the one below
  configure_logging(options);
  EXPECT_NO_THROW(check_log_file());
  LADLE_LOG(warning) << "a record the disk has no room for";
  EXPECT_EQ(ladle::testing::error_message([] { check_log_file(); }),
            "/dev/full: cannot write the log: No space left on device");
  configure_logging(LoggingOptions{});
}

TEST(Logging, TheCommandLineEndsWithAnErrorWhenTheLogCannotBeWritten) {
  const auto result = ladle::testing::run_ladle({"--log-file", "/dev/full", "version"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "ladle: error: /dev/full: cannot write the log: No space left on device\n");
  const auto unopenable = ladle::testing::run_ladle({"--log-file", "/nonexistent-folder/run.log", "version"});
  EXPECT_EQ(unopenable.exit_code, 1);
  EXPECT_EQ(unopenable.err, "ladle: error: /nonexistent-folder/run.log: cannot open the log: No such file or directory\n");
}

}  // namespace ladle::log
