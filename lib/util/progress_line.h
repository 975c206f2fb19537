// A one-line progress display for long work: done/total, percentage, rate, elapsed time and ETA.
//   ProgressLine progress("merge", total_bytes, ProgressOptions{}.unit(ProgressUnit::bytes));
//   progress.advance(n);      // thread-safe
//   progress.finish();        // also done by the destructor
// It redraws stderr in place when stderr is a terminal and progress is not silenced (ProgressLine::set_quiet,
// the CLI's --quiet); otherwise it stays silent but for a debug log record now and then and an info record at
// the end, so logs of unattended runs still show how long the work took.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace ladle {

enum class ProgressUnit { items, bytes };

struct ProgressOptions {
  std::string item_name = "it";          // what is counted, shown in the rate ("tensors/s", "steps/s")
  ProgressUnit unit = ProgressUnit::items;  // bytes: counts and rates printed as KiB/MiB/GiB
  double redraw_interval_seconds = 0.25;  // the least time between two redraws on a terminal
  double log_interval_seconds = 30.0;     // the least time between two debug records when not on a terminal
};

class ProgressLine {
 public:
  ProgressLine(std::string label, std::uint64_t total, ProgressOptions options = {});
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ~ProgressLine();

  void advance(std::uint64_t amount = 1);
  // Free text shown after the figures, e.g. "loss 2.314".
  void set_status(std::string status);
  // Draws the final state, ends the line and logs a summary; later calls do nothing.
  void finish();

  // Silences every progress line in the process (the CLI's --quiet).
  static void set_quiet(bool quiet);

  // "12/40 (30.0%) 3.10 tensors/s elapsed 0:04 ETA 0:09" for the current state.
  std::string render() const;

 private:
  void draw_locked(bool final_draw);
  std::string render_locked() const;
  double elapsed_seconds() const;

  std::string label_;
  std::uint64_t total_;
  ProgressOptions options_;
  std::string status_;
  std::uint64_t done_ = 0;
  bool finished_ = false;
  bool on_terminal_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::chrono::steady_clock::time_point last_log_;
  mutable std::mutex mutex_;
};

}  // namespace ladle
