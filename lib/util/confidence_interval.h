// Confidence intervals for experiment reports: the Student t interval of a mean over a few replicates (seeds), and
// the paired percentile bootstrap of a difference between two models scored on the same examples (Efron &
// Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13: the percentile interval).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ladle {

struct ConfidenceInterval {
  double lower = 0;
  double upper = 0;

  // Whether the interval leaves out `value` (for a difference: whether it separates the two from equal).
  bool excludes(double value) const { return value < lower || value > upper; }
};

// The p-quantile of Student's t distribution with `degrees_of_freedom` (> 0), p in (0, 1): t_{0.975,2} = 4.303.
double student_t_quantile(double p, double degrees_of_freedom);

// The mean, the sample standard deviation (n - 1 in the denominator) and the two-sided t interval of the mean at
// `level` (mean ± t_{(1+level)/2, n-1} · sd / √n) of n values; with one value the spread is 0 and the interval the
// value itself (nothing to estimate it from). Throws ladle::Error for no values.
struct MeanWithInterval {
  double mean = 0;
  double standard_deviation = 0;
  ConfidenceInterval interval;
  std::size_t count = 0;
};
MeanWithInterval mean_with_t_interval(const std::vector<double>& values, double level = 0.95);

// The paired bootstrap of the weighted-mean difference Σ w_i (a_i - b_i) / Σ w_i over n examples: `resamples`
// times, n example indices are drawn with replacement (seeded splitmix64, so the interval is reproducible) and the
// statistic recomputed on them; the interval is the (1-level)/2 and (1+level)/2 percentiles of those statistics.
// Weights are e.g. each example's target tokens (the difference of token-level mean losses) or 1 (of accuracies).
// Throws ladle::Error when the sizes differ, there are no examples or the weights are not positive.
struct PairedBootstrapOptions {
  std::size_t resamples = 10000;
  double level = 0.95;
  std::uint64_t seed = 0;
};
ConfidenceInterval paired_bootstrap_interval(const std::vector<double>& a, const std::vector<double>& b,
                                             const std::vector<double>& weights, const PairedBootstrapOptions& options = {});

}  // namespace ladle
