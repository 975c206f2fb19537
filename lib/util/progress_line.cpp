#include "lib/util/progress_line.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "lib/log/log.h"
#include "lib/util/human_format.h"

namespace ladle {
namespace {

std::atomic<bool> quiet_everywhere{false};

double seconds_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

ProgressLine::ProgressLine(std::string label, std::uint64_t total, ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      options_(std::move(options)),
      on_terminal_(isatty(STDERR_FILENO) == 1 && !quiet_everywhere.load()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      last_log_(start_) {}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::set_quiet(bool quiet) { quiet_everywhere = quiet; }

void ProgressLine::advance(std::uint64_t amount) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += amount;
  draw_locked(false);
}

void ProgressLine::set_status(std::string status) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_ = std::move(status);
}

void ProgressLine::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  draw_locked(true);
  LADLE_LOG(info) << label_ << ": " << render_locked();
}

double ProgressLine::elapsed_seconds() const {
  return seconds_between(start_, std::chrono::steady_clock::now());
}

std::string ProgressLine::render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return render_locked();
}

std::string ProgressLine::render_locked() const {
  const bool bytes = options_.unit == ProgressUnit::bytes;
  auto amount = [bytes](double value) { return bytes ? format_bytes(value) : format_count(value); };
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string line = amount(static_cast<double>(done_));
  if (total_ > 0) {
    char percent[32];
    std::snprintf(percent, sizeof percent, " (%.1f%%)", 100.0 * static_cast<double>(done_) / total_);
    line += "/" + amount(static_cast<double>(total_)) + percent;
  }
  line += " " + amount(rate) + (bytes ? "/s" : " " + options_.item_name + "/s");
  line += " elapsed " + format_duration(elapsed);
  if (total_ > 0 && done_ < total_) {
    line += " ETA " + (rate > 0 ? format_duration(static_cast<double>(total_ - done_) / rate) : std::string("?"));
  }
  if (!status_.empty()) line += "  " + status_;
  return line;
}

void ProgressLine::draw_locked(bool final_draw) {
  const auto now = std::chrono::steady_clock::now();
  if (on_terminal_ && !quiet_everywhere.load()) {
    if (!final_draw && seconds_between(last_draw_, now) < options_.redraw_interval_seconds) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r\033[K%s %s%s", label_.c_str(), render_locked().c_str(), final_draw ? "\n" : "");
    std::fflush(stderr);
  } else if (!final_draw && seconds_between(last_log_, now) >= options_.log_interval_seconds) {
    last_log_ = now;
    LADLE_LOG(debug) << label_ << ": " << render_locked();
  }
}

}  // namespace ladle
