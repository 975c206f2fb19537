#include "trainer/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace ladle::trainer {

LrSchedule::LrSchedule(ScheduleConfig config, double base_lr, std::int64_t total_steps)
    : config_(config), base_lr_(base_lr), total_steps_(total_steps) {
  if (total_steps <= 0)
    throw Error("learning-rate schedule: the run has no steps (total_steps " + std::to_string(total_steps) + ")");
}

double LrSchedule::at(std::int64_t step) const { return base_lr_ * factor(step); }

double LrSchedule::factor(std::int64_t step) const {
  const std::int64_t warmup = config_.warmup_steps;
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup));
  const double decay_steps = static_cast<double>(std::max<std::int64_t>(1, total_steps_ - warmup));
  const double m = config_.min_lr_ratio;
  switch (config_.name) {
    case ScheduleKind::constant:
      return 1.0;
    case ScheduleKind::linear:
      return m + (1 - m) * std::max(0.0, static_cast<double>(total_steps_ - step) / decay_steps);
    case ScheduleKind::cosine: {
      const double progress = std::min(1.0, static_cast<double>(step - warmup) / decay_steps);
      return m + (1 - m) * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
    }
  }
  return 1.0;
}

}  // namespace ladle::trainer
