// EmaAverage: an exponential moving average of the weights, average ← d·average + (1 − d)·live, updated after
// optimizer steps, with timm's optional decay warmup and an optional CPU offload that overlaps the update with
// training.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "callbacks/weight_average.h"

namespace ladle::callbacks {

class BackgroundWorker;

struct EmaOptions {
  double decay = 0.9999;  // d once warmed up; in [0, 1]
  // timm's decay warmup (ModelEmaV3.get_decay, after @crowsonkb): d(t) = 1 − (1 + t/γ)^(−p) clamped to
  // [min_decay, decay], where t is the number of updates before this one. γ = 1, p = 2/3 reaches 0.999 after
  // 31.6k updates and 0.9999 after 1M; p = 3/4 reaches them after 10k and 215k. t counts updates, not optimizer
  // steps: with schedule.every = 10 the warmup takes ten times as many steps, and it starts at start_step.
  bool warmup = false;
  double warmup_gamma = 1.0;        // γ > 0
  double warmup_power = 2.0 / 3.0;  // p > 0
  double min_decay = 0.0;           // lower clamp of the warmed-up decay, in [0, decay]
  StepSchedule schedule;            // which optimizer steps update the average (default: every step)
  BufferMode buffers = BufferMode::average;  // timm averages floating-point buffers by default
  // Keep the average on the CPU and run each update on a background thread: the live weights are copied into a
  // CPU staging buffer on the training thread (pinned memory when the model is on a GPU), then the update runs
  // while training continues. Reads of the average and the next update wait for it.
  bool offload_to_cpu = false;
};

// The decay of the update that follows `updates_before` earlier ones: 0 for the first update (it copies the live
// weights, as timm's get_decay returns 0 at the first step after update_after_step and AveragedModel copies on
// its first update_parameters), then `decay`, or with warmup 1 − (1 + t/γ)^(−p) clamped to [min_decay, decay].
double ema_decay(const EmaOptions& options, std::int64_t updates_before);

class EmaAverage : public WeightAverage {
 public:
  // Throws ladle::Error for options out of range. See WeightAverage for `live` and `live_buffers`.
  EmaAverage(const FlatParameters& live, NamedTensors live_buffers, EmaOptions options = {});
  ~EmaAverage() override;

  std::string name() const override { return "ema"; }
  bool on_optimizer_step(std::int64_t step) override;
  void update(std::int64_t step) override;
  void wait() override;
  std::int64_t count() const override { return updates_; }
  std::vector<at::Tensor> averaged_flat_values() override;
  NamedTensors averaged_buffers() override;
  AveragingState state() override;
  void load_state(const AveragingState& state) override;

  const EmaOptions& options() const { return options_; }
  const StepSchedule& schedule() const override { return options_.schedule; }
  // The decay the next update will use.
  double next_decay() const { return ema_decay(options_, updates_); }

 private:
  // One update from `values` (the live groups or their staging copies) and `buffers` with decay d.
  void apply(const std::vector<at::Tensor>& values, const NamedTensors& buffers, double d);

  EmaOptions options_;
  std::vector<at::Tensor> average_;  // one flat tensor per live group, fp32 (fp64 for fp64 groups)
  NamedTensors buffer_average_;
  std::int64_t updates_ = 0;
  std::int64_t last_step_ = -1;  // the step of the latest update, -1 before the first
  // With offload_to_cpu: CPU copies of the live values and buffers that the background update reads.
  std::vector<at::Tensor> staging_;
  NamedTensors staging_buffers_;
  std::unique_ptr<BackgroundWorker> worker_;
};

}  // namespace ladle::callbacks
