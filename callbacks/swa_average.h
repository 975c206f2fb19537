// SwaAverage: stochastic weight averaging (Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
// Generalization", UAI 2018): the equal-weight running mean of the weights at scheduled optimizer steps, computed as
// torch.optim.swa_utils.AveragedModel's default avg_fn does (bit for bit, see running_mean_update_).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "callbacks/weight_average.h"

namespace ladle::callbacks {

struct SwaOptions {
  StepSchedule schedule;  // which optimizer steps are averaged in (e.g. start at 75% of training, every epoch)
  // AveragedModel leaves buffers at their values when it was built unless use_buffers=True averages them; the
  // latest live value is the useful default, and update_bn recomputes BatchNorm statistics at the end anyway.
  BufferMode buffers = BufferMode::copy;
};

class SwaAverage : public WeightAverage {
 public:
  // Throws ladle::Error for an invalid schedule. See WeightAverage for `live` and `live_buffers`.
  SwaAverage(const FlatParameters& live, NamedTensors live_buffers, SwaOptions options = {});

  std::string name() const override { return "swa"; }
  bool on_optimizer_step(std::int64_t step) override;
  // average ← average + (live − average)/(n + 1) after n earlier updates; the first copies.
  void update(std::int64_t step) override;
  std::int64_t count() const override { return updates_; }
  std::vector<at::Tensor> averaged_flat_values() override;
  NamedTensors averaged_buffers() override;
  AveragingState state() override;
  void load_state(const AveragingState& state) override;

  const SwaOptions& options() const { return options_; }
  const StepSchedule& schedule() const override { return options_.schedule; }

 private:
  SwaOptions options_;
  std::vector<at::Tensor> average_;  // one flat tensor per live group, fp32 (fp64 for fp64 groups)
  NamedTensors buffer_average_;
  std::int64_t updates_ = 0;     // AveragedModel's n_averaged
  std::int64_t last_step_ = -1;  // the step of the latest update, -1 before the first
};

}  // namespace ladle::callbacks
