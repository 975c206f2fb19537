#include "callbacks/power_ema.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "lib/util/error.h"

namespace ladle::callbacks {

double power_ema_beta(double gamma, std::int64_t step, std::int64_t delta) {
  if (!(gamma > -1.0) || step < 1 || delta < 1 || delta > step) {
    throw Error("power EMA: beta needs gamma > -1 and 1 <= delta <= step, got gamma " + std::to_string(gamma) +
                ", step " + std::to_string(step) + ", delta " + std::to_string(delta));
  }
  return std::pow(1.0 - static_cast<double>(delta) / static_cast<double>(step), gamma + 1.0);
}

double sigma_rel_of_gamma(double gamma) { return std::sqrt(gamma + 1.0) / ((gamma + 2.0) * std::sqrt(gamma + 3.0)); }

double gamma_of_sigma_rel(double sigma_rel) {
  if (!(sigma_rel > 0.0) || !std::isfinite(sigma_rel)) {
    throw Error("power EMA: sigma_rel is " + std::to_string(sigma_rel) + ", expected a number > 0");
  }
  const double s = 1.0 / (sigma_rel * sigma_rel);
  const auto cubic = [s](double g) { return ((g + 7.0) * g + (16.0 - s)) * g + (12.0 - s); };
  const auto slope = [s](double g) { return (3.0 * g + 14.0) * g + (16.0 - s); };
  // Newton from above every root (Cauchy's bound 1 + max |coefficient|) falls monotonically onto the largest one:
  // right of it the cubic is positive, increasing and convex (its inflection point is at -7/3, below any root
  // of interest), so every step stays above the root and gets closer.
  double gamma = 1.0 + std::max({7.0, std::abs(16.0 - s), std::abs(12.0 - s)});
  for (int iteration = 0; iteration < 200; ++iteration) {
    const double next = gamma - cubic(gamma) / slope(gamma);
    if (!(next < gamma)) break;
    gamma = next;
  }
  // Substituted back: a cubic without a root above -1 leaves Newton stuck at its local minimum instead.
  if (!(gamma > -1.0) || !(std::abs(sigma_rel_of_gamma(gamma) - sigma_rel) <= 1e-9 * sigma_rel)) {
    throw Error("power EMA: sigma_rel " + std::to_string(sigma_rel) +
                " has no power profile (gamma would be <= -1); expected a sigma_rel below about 0.289 (gamma 0, "
                "the uniform average) or a little above");
  }
  return gamma;
}

double power_profile_inner_product(double t_i, double gamma_i, double t_j, double gamma_j) {
  const double sum = gamma_i + gamma_j + 1.0;
  const double log_value = std::log(gamma_i + 1.0) + std::log(gamma_j + 1.0) + sum * std::log(std::min(t_i, t_j)) -
                           std::log(sum) - (gamma_i + 1.0) * std::log(t_i) - (gamma_j + 1.0) * std::log(t_j);
  return std::exp(log_value);
}

}  // namespace ladle::callbacks
