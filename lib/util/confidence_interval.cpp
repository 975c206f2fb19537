#include "lib/util/confidence_interval.h"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <numeric>

#include "lib/util/error.h"
#include "lib/util/splitmix64.h"

namespace ladle {
namespace {

// The q-quantile of sorted values by linear interpolation between order statistics (numpy's default, "linear").
double percentile(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (position - static_cast<double>(below)) * (sorted[above] - sorted[below]);
}

}  // namespace

double student_t_quantile(double p, double degrees_of_freedom) {
  if (!(p > 0 && p < 1) || !(degrees_of_freedom > 0)) {
    throw Error("student_t_quantile: expected 0 < p < 1 and degrees of freedom > 0");
  }
  return boost::math::quantile(boost::math::students_t_distribution<double>(degrees_of_freedom), p);
}

MeanWithInterval mean_with_t_interval(const std::vector<double>& values, double level) {
  if (values.empty()) throw Error("mean_with_t_interval: no values");
  MeanWithInterval result;
  result.count = values.size();
  const auto n = static_cast<double>(values.size());
  result.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  result.interval = {result.mean, result.mean};
  if (values.size() == 1) return result;
  double squares = 0;
  for (const double value : values) squares += (value - result.mean) * (value - result.mean);
  result.standard_deviation = std::sqrt(squares / (n - 1));
  const double half_width = student_t_quantile((1 + level) / 2, n - 1) * result.standard_deviation / std::sqrt(n);
  result.interval = {result.mean - half_width, result.mean + half_width};
  return result;
}

ConfidenceInterval paired_bootstrap_interval(const std::vector<double>& a, const std::vector<double>& b,
                                             const std::vector<double>& weights, const PairedBootstrapOptions& options) {
  const std::size_t n = a.size();
  if (n == 0 || b.size() != n || weights.size() != n) {
    throw Error("paired bootstrap: expected two non-empty score lists and weights of one size, got " +
                std::to_string(a.size()) + ", " + std::to_string(b.size()) + " and " + std::to_string(weights.size()));
  }
  if (options.resamples == 0) throw Error("paired bootstrap: resamples must be at least 1");
  std::vector<double> weighted_differences(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!(weights[i] > 0)) throw Error("paired bootstrap: example " + std::to_string(i) + " has a weight <= 0");
    weighted_differences[i] = weights[i] * (a[i] - b[i]);
  }
  std::vector<double> statistics(options.resamples);
  // The splitmix64 sequence from the seed: its k-th output is the finaliser of seed + k · the golden-ratio step.
  std::uint64_t state = options.seed;
  for (double& statistic : statistics) {
    double difference = 0, weight = 0;
    for (std::size_t draw = 0; draw < n; ++draw) {
      const std::uint64_t random = splitmix64(state);
      state += 0x9E3779B97F4A7C15ull;
      // Multiply-shift maps the 64-bit draw onto [0, n) (Lemire 2019) without the bias of a modulo's wrap.
      const auto i = static_cast<std::size_t>((static_cast<unsigned __int128>(random) * n) >> 64);
      difference += weighted_differences[i];
      weight += weights[i];
    }
    statistic = difference / weight;
  }
  std::sort(statistics.begin(), statistics.end());
  return {percentile(statistics, (1 - options.level) / 2), percentile(statistics, (1 + options.level) / 2)};
}

}  // namespace ladle
