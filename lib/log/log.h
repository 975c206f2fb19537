// Logging for the whole toolkit, through Boost.Log (set up once by configure_logging).
// Call sites use the macro and never include Boost.Log headers, which keeps them cheap to compile:
//   LADLE_LOG(info) << "merged " << n << " tensors";
#pragma once

#include <optional>
#include <sstream>
#include <string>

namespace ladle::log {

enum class Level { trace, debug, info, warning, error, fatal };

// Parses "trace", "debug", "info", "warning" (or "warn"), "error", "fatal"; throws ladle::Error otherwise.
Level parse_level(const std::string& name);
const char* level_name(Level level);
std::ostream& operator<<(std::ostream& stream, Level level);

struct LoggingOptions {
  Level console_level = Level::info;         // least severe record printed on stderr
  std::optional<std::string> file;           // also append every record at file_level or above to this file
  Level file_level = Level::debug;           // least severe record written to the file
};

// Installs the stderr sink (and the file sink: lib/log/log_file.h) with timestamps and severities. Safe to call
// again: the previous sinks are replaced. Before the first call, records at info and above go to stderr.
void configure_logging(const LoggingOptions& options);

// True when a record at this level would reach at least one sink (so callers can skip formatting).
bool enabled(Level level);
void write(Level level, const std::string& message);

// One log record, written when it goes out of scope.
class Record {
 public:
  explicit Record(Level level) : level_(level) {}
  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;
  ~Record() { write(level_, stream_.str()); }
  std::ostringstream& stream() { return stream_; }

 private:
  Level level_;
  std::ostringstream stream_;
};

}  // namespace ladle::log

#define LADLE_LOG(level)                                           \
  if (!::ladle::log::enabled(::ladle::log::Level::level)) {        \
  } else                                                           \
    ::ladle::log::Record(::ladle::log::Level::level).stream()
