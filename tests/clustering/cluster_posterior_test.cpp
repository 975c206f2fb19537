#include "clustering/cluster_posterior.h"

#include <gtest/gtest.h>

#include <cmath>

#include "lib/util/error.h"

namespace ladle::clustering {
namespace {

FloatMatrix column(const std::vector<float>& values) {
  FloatMatrix matrix(static_cast<std::int64_t>(values.size()), 1);
  matrix.values = values;
  return matrix;
}

// One-dimensional centres at 0, 1 and 2 seen from 0: squared distances 0, 1 and 4.
TEST(ClusterPosterior, IsTheSoftmaxOfNegativeSquaredDistancesOverTheTemperature) {
  const FloatMatrix weights = cluster_posterior(column({0}), column({0, 1, 2}), {1.0, 0});
  const double sum = 1 + std::exp(-1.0) + std::exp(-4.0);
  EXPECT_NEAR(weights.row(0)[0], 1 / sum, 1e-6);
  EXPECT_NEAR(weights.row(0)[1], std::exp(-1.0) / sum, 1e-6);
  EXPECT_NEAR(weights.row(0)[2], std::exp(-4.0) / sum, 1e-6);
}

TEST(ClusterPosterior, TopKKeepsTheNearestCentresRenormalised) {
  const FloatMatrix weights = cluster_posterior(column({0, 2}), column({0, 1, 2}), {1.0, 2});
  const double sum = 1 + std::exp(-1.0);
  EXPECT_NEAR(weights.row(0)[0], 1 / sum, 1e-6);
  EXPECT_NEAR(weights.row(0)[1], std::exp(-1.0) / sum, 1e-6);
  EXPECT_EQ(weights.row(0)[2], 0);
  // Seen from 2 the order reverses.
  EXPECT_EQ(weights.row(1)[0], 0);
  EXPECT_NEAR(weights.row(1)[2], 1 / sum, 1e-6);
  // A low temperature concentrates the weight on the nearest centre: exp(-1 / 0.01) is nothing.
  const FloatMatrix sharp = cluster_posterior(column({0.9f}), column({0, 1, 2}), {0.01, 0});
  EXPECT_NEAR(sharp.row(0)[1], 1, 1e-6);
}

TEST(ClusterPosterior, RejectsMismatchedDimensionsAndBadOptions) {
  EXPECT_THROW(cluster_posterior(FloatMatrix(1, 2), column({0, 1})), Error);
  EXPECT_THROW(cluster_posterior(column({0}), column({0, 1}), {0.0, 0}), Error);
  EXPECT_THROW(cluster_posterior(column({0}), column({0, 1}), {1.0, -1}), Error);
  EXPECT_THROW(cluster_posterior(column({0}), FloatMatrix()), Error);
}

}  // namespace
}  // namespace ladle::clustering
