// EmaAverage: an exponential moving average of the weights, average ← d·average + (1 − d)·live, updated after
// optimizer steps, with timm's optional decay warmup or EDM2's power-function profile (power_ema.h), and an optional
// CPU offload that overlaps the update with training. Several EMAs over the same parameters update in one pass over
// the live weights (EmaAverage::update_together).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "callbacks/weight_average.h"

namespace ladle::callbacks {

class BackgroundWorker;

struct EmaOptions {
  double decay = 0.9999;  // d once warmed up; in [0, 1]
  // EDM2's power-function EMA (power_ema.h) with this exponent gamma > -1: the update at step t after delta steps
  // without one uses d = (1 − delta/t)^(gamma+1) instead of `decay` (no warmup: the profile needs none). t is the
  // optimizer step, so the profile covers the run from step 0; with start_step > 0 the first update copies the
  // live weights, which then stand for the steps before it.
  std::optional<double> power_gamma;
  // timm's decay warmup (ModelEmaV3.get_decay, after @crowsonkb): d(t) = 1 − (1 + t/γ)^(−p) clamped to
  // [min_decay, decay], where t is the number of updates before this one. γ = 1, p = 2/3 reaches 0.999 after
  // 31.6k updates and 0.9999 after 1M; p = 3/4 reaches them after 10k and 215k. t counts updates, not optimizer
  // steps: with schedule.every = 10 the warmup takes ten times as many steps, and it starts at start_step.
  bool warmup = false;
  double warmup_gamma = 1.0;                 // γ > 0
  double warmup_power = 2.0 / 3.0;           // p > 0
  double min_decay = 0.0;                    // lower clamp of the warmed-up decay, in [0, decay]
  StepSchedule schedule;                     // which optimizer steps update the average (default: every step)
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
  // on_optimizer_step of every EMA in `emas` (all built over the same live parameters), with the EMAs updated on
  // the training thread sharing one pass over the live weights: slice by slice, each slice of the live buffer is
  // folded into every average while it is in cache, so the live weights are read from memory once rather than once
  // per EMA. Same numbers as separate updates (the kernel is element-wise). Offloaded EMAs update on their own
  // threads as usual.
  static void update_together(const std::vector<EmaAverage*>& emas, std::int64_t step);
  void wait() override;
  std::int64_t count() const override { return updates_; }
  std::vector<at::Tensor> averaged_flat_values() override;
  NamedTensors averaged_buffers() override;
  AveragingState state() override;
  void load_state(const AveragingState& state) override;

  const EmaOptions& options() const { return options_; }
  const StepSchedule& schedule() const override { return options_.schedule; }
  // The decay an update at optimizer step `step` (after the latest one) would use.
  double decay_at(std::int64_t step) const;

 private:
  // One update from `values` (the live groups or their staging copies) and `buffers` with decay d.
  void apply(const std::vector<at::Tensor>& values, const NamedTensors& buffers, double d);
  void apply_to_buffers(const NamedTensors& buffers, double d);
  // Counts an update made at `step`.
  void record_update(std::int64_t step);

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
