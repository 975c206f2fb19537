#include "lib/log/log.h"

#include <boost/core/null_deleter.hpp>
#include <boost/log/attributes/clock.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/sinks/text_ostream_backend.hpp>
#include <boost/log/sources/record_ostream.hpp>
#include <boost/log/sources/severity_logger.hpp>
#include <boost/log/support/date_time.hpp>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>

#include "lib/util/error.h"

namespace ladle::log {
namespace {

namespace blog = boost::log;
namespace expr = boost::log::expressions;
using TextSink = blog::sinks::synchronous_sink<blog::sinks::text_ostream_backend>;

BOOST_LOG_ATTRIBUTE_KEYWORD(severity_keyword, "Severity", Level)
BOOST_LOG_ATTRIBUTE_KEYWORD(timestamp_keyword, "TimeStamp", boost::posix_time::ptime)

// The least severe level any sink accepts; lets enabled() answer without touching Boost.Log.
std::atomic<int> lowest_enabled{static_cast<int>(Level::info)};
std::mutex configure_mutex;
bool configured = false;

blog::formatter record_format() {
  return expr::stream << expr::format_date_time(timestamp_keyword, "%Y-%m-%d %H:%M:%S.%f") << " ["
                      << expr::attr<Level>("Severity") << "] " << expr::smessage;
}

boost::shared_ptr<TextSink> make_sink(boost::shared_ptr<std::ostream> stream, Level least) {
  auto backend = boost::make_shared<blog::sinks::text_ostream_backend>();
  backend->add_stream(stream);
  backend->auto_flush(true);
  auto sink = boost::make_shared<TextSink>(backend);
  sink->set_formatter(record_format());
  sink->set_filter(severity_keyword >= least);
  return sink;
}

void install_sinks(const LoggingOptions& options) {
  auto core = blog::core::get();
  core->remove_all_sinks();
  core->add_global_attribute("TimeStamp", blog::attributes::local_clock());
  core->add_sink(make_sink(boost::shared_ptr<std::ostream>(&std::clog, boost::null_deleter()),
                           options.console_level));
  Level lowest = options.console_level;
  if (options.file) {
    auto file = boost::make_shared<std::ofstream>(*options.file, std::ios::app);
    if (!*file) throw Error("cannot open log file '" + *options.file + "' for appending");
    core->add_sink(make_sink(file, options.file_level));
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
  std::lock_guard<std::mutex> lock(configure_mutex);
  install_sinks(options);
}

bool enabled(Level level) { return static_cast<int>(level) >= lowest_enabled.load(std::memory_order_relaxed); }

void write(Level level, const std::string& message) {
  ensure_configured();
  static thread_local blog::sources::severity_logger<Level> logger;
  BOOST_LOG_SEV(logger, level) << message;
}

}  // namespace ladle::log
