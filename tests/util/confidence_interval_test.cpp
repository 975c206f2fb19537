#include "lib/util/confidence_interval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lib/util/error.h"

namespace ladle {
namespace {

// Two-sided 95% critical values from a printed t table (e.g. Fisher & Yates, table III).
TEST(StudentTQuantile, MatchesTheTabulatedCriticalValues) {
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.303, 5e-4);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.776, 5e-4);
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.706, 5e-4);
  EXPECT_NEAR(student_t_quantile(0.025, 4), -2.776, 5e-4);
  EXPECT_THROW(student_t_quantile(1.0, 4), Error);
}

TEST(MeanWithTInterval, IsTheMeanPlusMinusTTimesTheStandardError) {
  const MeanWithInterval three = mean_with_t_interval({1, 2, 3});
  EXPECT_DOUBLE_EQ(three.mean, 2);
  EXPECT_DOUBLE_EQ(three.standard_deviation, 1);  // Σ(x - 2)² / (3 - 1) = 1
  EXPECT_NEAR(three.interval.lower, 2 - 4.303 / std::sqrt(3.0), 1e-3);
  EXPECT_NEAR(three.interval.upper, 2 + 4.303 / std::sqrt(3.0), 1e-3);
  const MeanWithInterval one = mean_with_t_interval({0.5});
  EXPECT_EQ(one.standard_deviation, 0);
  EXPECT_EQ(one.interval.lower, 0.5);
  EXPECT_EQ(one.interval.upper, 0.5);
  EXPECT_THROW(mean_with_t_interval({}), Error);
}

TEST(PairedBootstrap, ConstantDifferencesGiveAZeroWidthIntervalAtTheConstant) {
  const std::vector<double> b = {0.1, 2.0, 0.7, 1.3, 5.0};
  std::vector<double> a;
  for (const double value : b) a.push_back(value + 0.25);
  const ConfidenceInterval interval = paired_bootstrap_interval(a, b, {1, 3, 2, 1, 7});
  EXPECT_NEAR(interval.lower, 0.25, 1e-12);
  EXPECT_NEAR(interval.upper, 0.25, 1e-12);
  EXPECT_TRUE(interval.excludes(0));
}

// 400 paired examples where a beats b on exactly half (differences 1 and 0): the mean difference is 0.5 with
// standard error 0.5 / √400 = 0.025, so the 95% interval is close to the normal one, 0.5 ± 1.96 · 0.025.
TEST(PairedBootstrap, MatchesTheNormalIntervalOfALargeSample) {
  std::vector<double> a(400), b(400, 0.0), weights(400, 1.0);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = i % 2 == 0 ? 1.0 : 0.0;
  const ConfidenceInterval interval = paired_bootstrap_interval(a, b, weights);
  EXPECT_NEAR(interval.lower, 0.5 - 1.96 * 0.025, 0.006);
  EXPECT_NEAR(interval.upper, 0.5 + 1.96 * 0.025, 0.006);
  const ConfidenceInterval again = paired_bootstrap_interval(a, b, weights);
  EXPECT_EQ(interval.lower, again.lower) << "seeded: the same interval every time";
  EXPECT_EQ(interval.upper, again.upper);
}

TEST(PairedBootstrap, RejectsMismatchedSizesAndNonPositiveWeights) {
  EXPECT_THROW(paired_bootstrap_interval({1, 2}, {1}, {1, 1}), Error);
  EXPECT_THROW(paired_bootstrap_interval({1, 2}, {1, 2}, {1, 0}), Error);
  EXPECT_THROW(paired_bootstrap_interval({}, {}, {}), Error);
}

}  // namespace
}  // namespace ladle
