// faiss k-means through kmeans_partition: recovery of known clusters, reproducibility, the nearest-centroid
// assignment, and the edge cases (K > N, K = N, duplicate points, non-finite values).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "clustering/kmeans.h"
#include "clustering/label_agreement.h"
#include "tests/support/test_helpers.h"

namespace ladle::clustering {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;

// `per_cluster` points around each of `clusters` centres 10·e_c (dimension 8), with N(0, 0.1²) noise; labels[i]
// is the centre point i was drawn around. Points are interleaved so that cluster order is not point order.
FloatMatrix blobs(std::int64_t clusters, std::int64_t per_cluster, std::vector<std::int64_t>& labels) {
  std::mt19937_64 generator(7);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  FloatMatrix points(clusters * per_cluster, 8);
  labels.clear();
  for (std::int64_t i = 0; i < points.rows; ++i) {
    const std::int64_t c = i % clusters;
    for (std::int64_t j = 0; j < 8; ++j) points.row(i)[j] = (j == c ? 10.0f : 0.0f) + noise(generator);
    labels.push_back(c);
  }
  return points;
}

FloatMatrix uniform_points(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  FloatMatrix points(rows, cols);
  for (float& v : points.values) v = value(generator);
  return points;
}

double squared_distance(const float* a, const float* b, std::int64_t d) {
  double sum = 0.0;
  for (std::int64_t j = 0; j < d; ++j) sum += (a[j] - b[j]) * static_cast<double>(a[j] - b[j]);
  return sum;
}

KMeansOptions options_with_k(std::int64_t k) {
  KMeansOptions options;
  options.k = k;
  return options;
}

TEST(KMeans, RecoversWellSeparatedClusters) {
  std::vector<std::int64_t> labels;
  const FloatMatrix points = blobs(4, 50, labels);
  // faiss starts from K random points, which all come from different blobs only 4!·50⁴/(200·199·198·197) ≈ 10% of
  // the time, and Lloyd iterations do not always escape a start with two centroids in one blob: one run recovered
  // these blobs for 22 of 40 seeds tried, ten runs (the lowest objective kept) for all 40.
  KMeansOptions options = options_with_k(4);
  options.nredo = 10;
  const KMeansResult result = kmeans_partition(points, options);
  EXPECT_NEAR(normalized_mutual_information(result.partition.assignments, labels), 1.0, 1e-9);
  EXPECT_EQ(result.partition.sizes, (std::vector<std::int64_t>{50, 50, 50, 50}));
}

TEST(KMeans, SphericalKMeansRecoversDirectionsOfUnitVectors) {
  std::vector<std::int64_t> labels;
  FloatMatrix points = blobs(3, 40, labels);
  for (std::int64_t i = 0; i < points.rows; ++i) {
    const double norm = std::sqrt(squared_distance(points.row(i), FloatMatrix(1, 8).row(0), 8));
    for (std::int64_t j = 0; j < 8; ++j) points.row(i)[j] = static_cast<float>(points.row(i)[j] / norm);
  }
  KMeansOptions options = options_with_k(3);
  options.spherical = true;
  const KMeansResult result = kmeans_partition(points, options);
  EXPECT_NEAR(normalized_mutual_information(result.partition.assignments, labels), 1.0, 1e-9);
  for (std::int64_t c = 0; c < 3; ++c) {
    EXPECT_NEAR(squared_distance(result.partition.centroids.row(c), FloatMatrix(1, 8).row(0), 8), 1.0, 1e-5);
  }
  // Distances are squared L2 even though the assignment used inner products.
  for (std::int64_t i = 0; i < points.rows; ++i) {
    const auto& partition = result.partition;
    const auto centre = partition.centroids.row(partition.assignments[static_cast<std::size_t>(i)]);
    EXPECT_NEAR(partition.distances[static_cast<std::size_t>(i)], squared_distance(points.row(i), centre, 8), 1e-5);
  }
}

TEST(KMeans, SameSeedGivesTheSameAssignments) {
  const FloatMatrix points = uniform_points(600, 6, 3);
  KMeansOptions options = options_with_k(5);
  options.seed = 99;
  const KMeansResult first = kmeans_partition(points, options);
  const KMeansResult second = kmeans_partition(points, options);
  EXPECT_EQ(first.partition.assignments, second.partition.assignments);
  EXPECT_EQ(first.partition.centroids.values, second.partition.centroids.values);
}

TEST(KMeans, EveryPointGoesToItsNearestFinalCentroid) {
  const FloatMatrix points = uniform_points(300, 4, 5);
  const KMeansResult result = kmeans_partition(points, options_with_k(6));
  const Partition& partition = result.partition;
  double inertia = 0.0;
  for (std::int64_t i = 0; i < points.rows; ++i) {
    const auto assigned = partition.assignments[static_cast<std::size_t>(i)];
    const double own = squared_distance(points.row(i), partition.centroids.row(assigned), 4);
    for (std::int64_t c = 0; c < 6; ++c) {
      EXPECT_LE(own, squared_distance(points.row(i), partition.centroids.row(c), 4) + 1e-5) << "point " << i;
    }
    EXPECT_NEAR(partition.distances[static_cast<std::size_t>(i)], own, 1e-5);
    inertia += own;
  }
  EXPECT_NEAR(partition.inertia, inertia, 1e-3);
}

TEST(KMeans, MoreClustersThanPointsIsAnError) {
  const auto message = error_message([] { kmeans_partition(uniform_points(3, 2, 1), options_with_k(4)); });
  EXPECT_TRUE(contains(message, "cannot make 4 clusters from 3 points")) << message;
}

TEST(KMeans, AsManyClustersAsPointsPutsEachPointAlone) {
  const KMeansResult result = kmeans_partition(uniform_points(5, 3, 2), options_with_k(5));
  EXPECT_EQ(result.partition.sizes, (std::vector<std::int64_t>{1, 1, 1, 1, 1}));
  EXPECT_NEAR(result.partition.inertia, 0.0, 1e-9);
}

TEST(KMeans, DuplicatePointsLeaveEmptyClustersThatAreReported) {
  // Two distinct points, five copies each, into three clusters: copies always share a cluster, so at least one
  // cluster is empty, and it is listed.
  FloatMatrix points(10, 2);
  for (std::int64_t i = 0; i < 10; ++i) points.row(i)[0] = i % 2 == 0 ? 1.0f : -1.0f;
  const KMeansResult result = kmeans_partition(points, options_with_k(3));
  const Partition& partition = result.partition;
  for (std::size_t i = 2; i < 10; ++i) EXPECT_EQ(partition.assignments[i], partition.assignments[i % 2]) << i;
  const auto empty = empty_clusters(partition);
  EXPECT_GE(empty.size(), 1u);
  for (std::int64_t c = 0; c < 3; ++c) {
    const bool listed = std::find(empty.begin(), empty.end(), c) != empty.end();
    EXPECT_EQ(listed, partition.sizes[static_cast<std::size_t>(c)] == 0) << "cluster " << c;
  }
}

TEST(KMeans, NonFiniteValueIsAnErrorNamingItsPoint) {
  FloatMatrix points = uniform_points(20, 3, 4);
  points.row(13)[1] = std::nanf("");
  const auto message = error_message([&] { kmeans_partition(points, options_with_k(2)); });
  EXPECT_TRUE(contains(message, "point 13 has a NaN")) << message;
}

TEST(KMeans, SubsampledTrainingStillAssignsEveryPoint) {
  std::vector<std::int64_t> labels;
  const FloatMatrix points = blobs(2, 200, labels);
  KMeansOptions options = options_with_k(2);
  options.max_points_per_centroid = 20;
  const KMeansResult result = kmeans_partition(points, options);
  EXPECT_EQ(result.partition.assignments.size(), 400u);
  EXPECT_NEAR(normalized_mutual_information(result.partition.assignments, labels), 1.0, 1e-9);
}

}  // namespace
}  // namespace ladle::clustering
