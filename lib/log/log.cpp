#include "lib/log/log.h"

#include "lib/log/log_file.h"

#include <boost/core/null_deleter.hpp>
#include <boost/log/attributes/clock.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/sinks/text_ostream_backend.hpp>
#include <boost/log/sources/record_ostream.hpp>
#include <boost/log/sources/severity_logger.hpp>
#include <boost/log/support/date_time.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <mutex>

#include "lib/util/error.h"

namespace ladle::log {
namespace {

namespace blog = boost::log;
namespace expr = boost::log::expressions;

BOOST_LOG_ATTRIBUTE_KEYWORD(severity_keyword, "Severity", Level)
BOOST_LOG_ATTRIBUTE_KEYWORD(timestamp_keyword, "TimeStamp", boost::posix_time::ptime)

// The --log-file sink: appends each record with write(2), so that a failed write is seen with its reason (an
// ofstream would only set a bit nobody reads). After its first failure it writes nothing more and keeps the reason
// for check_log_file(); a failure after earlier records were written (a disk that filled up during the command) is
// also said at once on stderr, since the command only fails at its end.
class LogFileBackend : public blog::sinks::basic_formatted_sink_backend<char> {
 public:
  explicit LogFileBackend(std::string path)
      : path_(std::move(path)), fd_(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw Error(path_ + ": cannot open the log: " + std::strerror(errno));
  }
  ~LogFileBackend() { ::close(fd_); }
  LogFileBackend(const LogFileBackend&) = delete;
  LogFileBackend& operator=(const LogFileBackend&) = delete;

  void consume(const blog::record_view&, const std::string& formatted) {
    if (failure_ != 0) return;
    const std::string line = formatted + "\n";
    for (std::size_t written = 0; written < line.size();) {
      const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        failure_ = n < 0 ? errno : EIO;
        if (wrote_a_record_) std::cerr << "ladle: warning: " << failure_message() << "; no more records go there\n";
        return;
      }
      written += static_cast<std::size_t>(n);
    }
    wrote_a_record_ = true;
  }
  bool failed() const { return failure_ != 0; }
  std::string failure_message() const { return path_ + ": cannot write the log: " + std::strerror(failure_); }

 private:
  std::string path_;
  int fd_;
  std::atomic<int> failure_{0};  // errno of the first failed write
  bool wrote_a_record_ = false;  // consume() runs under the sink's lock (synchronized_feeding)
};

// The least severe level any sink accepts; lets enabled() answer without touching Boost.Log.
std::atomic<int> lowest_enabled{static_cast<int>(Level::info)};
std::mutex configure_mutex;
bool configured = false;
boost::shared_ptr<LogFileBackend> log_file;  // the --log-file sink's backend, when there is one

blog::formatter record_format() {
  return expr::stream << expr::format_date_time(timestamp_keyword, "%Y-%m-%d %H:%M:%S.%f") << " ["
                      << expr::attr<Level>("Severity") << "] " << expr::smessage;
}

template <typename Backend>
boost::shared_ptr<blog::sinks::synchronous_sink<Backend>> make_sink(boost::shared_ptr<Backend> backend, Level least) {
  auto sink = boost::make_shared<blog::sinks::synchronous_sink<Backend>>(backend);
  sink->set_formatter(record_format());
  sink->set_filter(severity_keyword >= least);
  return sink;
}

void install_sinks(const LoggingOptions& options) {
  auto core = blog::core::get();
  core->remove_all_sinks();
  core->add_global_attribute("TimeStamp", blog::attributes::local_clock());
  auto console = boost::make_shared<blog::sinks::text_ostream_backend>();
  console->add_stream(boost::shared_ptr<std::ostream>(&std::clog, boost::null_deleter()));
  console->auto_flush(true);
  core->add_sink(make_sink(console, options.console_level));
  Level lowest = options.console_level;
  log_file.reset();
  if (options.file) {
    log_file = boost::make_shared<LogFileBackend>(*options.file);
    core->add_sink(make_sink(log_file, options.file_level));
    lowest = std::min(lowest, options.file_level);
  }
  lowest_enabled = static_cast<int>(lowest);
  configured = true;
}

void ensure_configured() {
  std::lock_guard<std::mutex> lock(configure_mutex);
  if (!configured) install_sinks(LoggingOptions{});
}

}  // namespace

std::ostream& operator<<(std::ostream& stream, Level level) { return stream << level_name(level); }

const char* level_name(Level level) {
  switch (level) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warning: return "warning";
    case Level::error: return "error";
    case Level::fatal: return "fatal";
  }
  return "unknown";
}

Level parse_level(const std::string& name) {
  for (Level level : {Level::trace, Level::debug, Level::info, Level::warning, Level::error, Level::fatal}) {
    if (name == level_name(level)) return level;
  }
  if (name == "warn") return Level::warning;
  throw Error("unknown log level '" + name + "' (expected trace, debug, info, warning, error or fatal)");
}

void configure_logging(const LoggingOptions& options) {
  {
    std::lock_guard<std::mutex> lock(configure_mutex);
    install_sinks(options);
  }
  // A first record, so that a log file that cannot be written (a full disk) fails here, before any work is done.
  if (options.file && options.file_level <= Level::debug) {
    write(Level::debug, "appending the log of process " + std::to_string(::getpid()) + " to " + *options.file);
    check_log_file();
  }
}

void check_log_file() {
  std::lock_guard<std::mutex> lock(configure_mutex);
  if (log_file && log_file->failed()) throw Error(log_file->failure_message());
}

bool enabled(Level level) { return static_cast<int>(level) >= lowest_enabled.load(std::memory_order_relaxed); }

void write(Level level, const std::string& message) {
  ensure_configured();
  static thread_local blog::sources::severity_logger<Level> logger;
  BOOST_LOG_SEV(logger, level) << message;
}

}  // namespace ladle::log
