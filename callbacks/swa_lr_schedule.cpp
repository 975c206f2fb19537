#include "callbacks/swa_lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "lib/util/error.h"

namespace ladle::callbacks {

SwaLrSchedule::SwaLrSchedule(SwaLrOptions options) : options_(options) {
  if (!(options_.swa_lr > 0.0) || !std::isfinite(options_.swa_lr)) {
    throw Error("SWA learning rate schedule: swa_lr is " + std::to_string(options_.swa_lr) +
                ", expected a positive number");
  }
  if (options_.anneal_steps < 0) {
    throw Error("SWA learning rate schedule: anneal_steps is " + std::to_string(options_.anneal_steps) +
                ", expected >= 0");
  }
}

double SwaLrSchedule::lr(std::int64_t k, double start_lr) const {
  if (options_.anneal_steps == 0) k = std::max<std::int64_t>(1, k);
  const double t = std::clamp(static_cast<double>(k) / static_cast<double>(std::max<std::int64_t>(1, options_.anneal_steps)),
                              0.0, 1.0);
  const double alpha = options_.anneal == SwaAnneal::cosine ? (1.0 - std::cos(M_PI * t)) / 2.0 : t;
  return options_.swa_lr * alpha + start_lr * (1.0 - alpha);
}

}  // namespace ladle::callbacks
