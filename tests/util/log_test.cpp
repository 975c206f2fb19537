#include "lib/log/log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "lib/util/error.h"
#include "tests/support/command_runner.h"

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

}  // namespace ladle::log
