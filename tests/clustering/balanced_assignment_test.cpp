// balance_partition: the greedy balanced assignment to fixed centres, against a hand-worked case (points on a line)
// and the size invariant (every size floor(N/K) or ceil(N/K)) on skewed random points where k-means' own sizes are
// far from equal.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "clustering/balanced_assignment.h"
#include "clustering/kmeans.h"
#include "lib/util/error.h"

namespace ladle::clustering {
namespace {

FloatMatrix column(const std::vector<float>& values) {
  FloatMatrix matrix(static_cast<std::int64_t>(values.size()), 1);
  std::copy(values.begin(), values.end(), matrix.values.begin());
  return matrix;
}

// Centres 0 and 10; points 0, 0.1, 0.2, 10. Pairs by squared distance: (0, c0) 0, (10, c1) 0, (0.1, c0) 0.01 fill
// c0's two places; (0.2, c0) 0.04 finds c0 full, and 0.2 takes c1 at 96.04.
TEST(BalancedAssignment, TheNearestCentreWithRoomTakesEachPointInDistanceOrder) {
  const FloatMatrix points = column({0.0f, 0.1f, 0.2f, 10.0f});
  Partition partition;
  partition.k = 2;
  partition.centroids = column({0.0f, 10.0f});
  partition.assignments = {0, 0, 0, 1};  // the unbalanced nearest-centre assignment
  balance_partition(partition, points);
  EXPECT_EQ(partition.assignments, (std::vector<std::int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(partition.sizes, (std::vector<std::int64_t>{2, 2}));
  EXPECT_NEAR(partition.distances[2], 9.8 * 9.8, 1e-4);
  EXPECT_NEAR(partition.inertia, 0.01 + 9.8 * 9.8, 1e-4);
}

TEST(BalancedAssignment, SizesDifferByAtMostOneOnSkewedData) {
  // 90 points around 0 and 13 around 5 in 3 dimensions: k-means sizes are far from equal.
  std::mt19937 generator(7);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  FloatMatrix points(103, 3);
  for (std::int64_t i = 0; i < points.rows; ++i) {
    for (std::int64_t j = 0; j < 3; ++j) points.row(i)[j] = (i < 90 ? 0.0f : 5.0f) + noise(generator);
  }
  for (const std::int64_t k : {2, 4, 7}) {
    KMeansOptions options;
    options.k = k;
    Partition partition = kmeans_partition(points, options).partition;
    balance_partition(partition, points);
    const auto [smallest, largest] = std::minmax_element(partition.sizes.begin(), partition.sizes.end());
    EXPECT_LE(*largest - *smallest, 1) << "k = " << k;
    EXPECT_EQ(*smallest, 103 / k) << "k = " << k;
    EXPECT_EQ(std::accumulate(partition.sizes.begin(), partition.sizes.end(), std::int64_t{0}), 103);
    EXPECT_EQ(cluster_sizes(partition.assignments, k), partition.sizes) << "sizes agree with the assignments";
  }
}

TEST(BalancedAssignment, APartitionWithoutCentresIsRefused) {
  Partition partition;
  partition.k = 2;
  partition.assignments = {0, 1};
  FloatMatrix points = column({0.0f, 1.0f});
  EXPECT_THROW(balance_partition(partition, points), Error);
}

}  // namespace
}  // namespace ladle::clustering
