// The observers every Trainer registers (before any user callback): a progress line and log records, the
// metrics.jsonl file, and the checkpoint policy.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "lib/util/progress_line.h"
#include "trainer/callback.h"

namespace ladle::trainer {

// Progress: a redrawn line on a terminal (steps, loss, learning rate, tokens/s, ETA) and, every log step and
// after every evaluation, an info log record, on the main process.
class ProgressCallback final : public Callback {
 public:
  std::string name() const override { return "progress"; }
  CallbackKind kind() const override { return CallbackKind::observes; }
  void on_event(Event event, TrainState& state) override;

 private:
  std::unique_ptr<ProgressLine> line_;
  std::chrono::steady_clock::time_point start_;
  std::int64_t start_step_ = 0;
};

// OUTPUT_DIR/metrics.jsonl on the main process: one JSON object per line,
//   {"kind": "train", "step": 10, "epoch": 0, "tokens": 5120, "train/loss": 2.31, "train/learning_rate": ...}
//   every log step, and
//   {"kind": "eval", "step": 10, "epoch": 0, "eval/loss": 2.2, "eval/loss/spam": ..., "ema/loss": ...}
//   after every evaluation (with the metrics callbacks added through evaluate_with).
// A fresh run starts the file anew; a resumed run drops the lines after its checkpoint's step and appends.
class MetricsJsonlCallback final : public Callback {
 public:
  std::string name() const override { return "metrics_jsonl"; }
  CallbackKind kind() const override { return CallbackKind::observes; }
  void on_event(Event event, TrainState& state) override;

  static std::filesystem::path path_in(const std::filesystem::path& output_dir) { return output_dir / "metrics.jsonl"; }

 private:
  void write(const std::string& line);
  std::filesystem::path path_;
  std::ofstream file_;
};

struct CheckpointPolicy {
  std::int64_t every_steps = 0;  // a checkpoint every N optimizer steps (0: none during training)
  std::size_t keep_last = 2;     // the newest N complete checkpoints are kept (0: all)
  bool at_end = true;            // a checkpoint after the last step
};

// When checkpoints are written (TrainState::request_checkpoint at step_end) and how many are kept (older ones
// are deleted on checkpoint_save, on the main process).
class CheckpointCallback final : public Callback {
 public:
  explicit CheckpointCallback(CheckpointPolicy policy) : policy_(policy) {}
  std::string name() const override { return "checkpoint"; }
  CallbackKind kind() const override { return CallbackKind::observes; }
  void on_event(Event event, TrainState& state) override;

 private:
  CheckpointPolicy policy_;
};

}  // namespace ladle::trainer
