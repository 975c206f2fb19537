// Learning-rate schedules with linear warmup, as Hugging Face transformers defines them
// (transformers/optimization.py: get_constant_schedule_with_warmup, get_linear_schedule_with_warmup,
// get_cosine_schedule_with_warmup with num_cycles 0.5, and get_cosine_with_min_lr_schedule_with_warmup's
// min_lr_rate, applied to linear decay too).
#pragma once

#include <cstdint>

#include "trainer/train_config.h"

namespace ladle::trainer {

class LrSchedule {
 public:
  // total_steps: the run's optimizer steps (the decay reaches its end there). Throws ladle::Error when
  // total_steps is not positive.
  LrSchedule(ScheduleConfig config, double base_lr, std::int64_t total_steps);

  // The learning rate of the optimizer step with 0-based index `step` (the first update uses at(0)):
  // base_lr · factor(step).
  double at(std::int64_t step) const;

  // With w = warmup_steps, T = total_steps, m = min_lr_ratio:
  //   step < w:  step / w                          (so the first step of a warmup has rate 0, as in transformers)
  //   constant:  1
  //   linear:    m + (1 − m) · max(0, (T − step) / max(1, T − w))
  //   cosine:    m + (1 − m) · ½ (1 + cos(π · p)),  p = min(1, (step − w) / max(1, T − w))
  double factor(std::int64_t step) const;

  const ScheduleConfig& config() const { return config_; }
  double base_lr() const { return base_lr_; }
  std::int64_t total_steps() const { return total_steps_; }

 private:
  ScheduleConfig config_;
  double base_lr_;
  std::int64_t total_steps_;
};

}  // namespace ladle::trainer
