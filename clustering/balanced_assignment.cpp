#include "clustering/balanced_assignment.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "lib/util/error.h"

namespace ladle::clustering {

void balance_partition(Partition& partition, const FloatMatrix& points) {
  const std::int64_t n = points.rows, k = partition.centroids.rows;
  if (k <= 0 || partition.centroids.cols != points.cols) {
    throw Error("balanced assignment: the partition has no centroids of the points' dimension");
  }
  if (static_cast<std::int64_t>(partition.assignments.size()) != n) {
    throw Error("balanced assignment: " + std::to_string(n) + " points for a partition of " +
                std::to_string(partition.assignments.size()));
  }
  // Every pair's squared distance, in double so that the order does not depend on float rounding of the sum.
  std::vector<double> distance(static_cast<std::size_t>(n * k));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t c = 0; c < k; ++c) {
      double sum = 0;
      for (std::int64_t j = 0; j < points.cols; ++j) {
        const double difference = static_cast<double>(points.row(i)[j]) - partition.centroids.row(c)[j];
        sum += difference * difference;
      }
      distance[static_cast<std::size_t>(i * k + c)] = sum;
    }
  }
  std::vector<std::int64_t> pairs(static_cast<std::size_t>(n * k));
  std::iota(pairs.begin(), pairs.end(), std::int64_t{0});
  // Index order i·k + c breaks ties by point, then centre.
  std::stable_sort(pairs.begin(), pairs.end(), [&](std::int64_t a, std::int64_t b) {
    return distance[static_cast<std::size_t>(a)] < distance[static_cast<std::size_t>(b)];
  });
  const std::int64_t floor_size = n / k;
  std::int64_t extra_places = n % k;
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(k), 0);
  std::vector<std::int64_t> assignments(static_cast<std::size_t>(n), -1);
  for (const std::int64_t pair : pairs) {
    const std::int64_t i = pair / k, c = pair % k;
    auto& size = sizes[static_cast<std::size_t>(c)];
    if (assignments[static_cast<std::size_t>(i)] >= 0) continue;
    if (size < floor_size) {
      ++size;
    } else if (size == floor_size && extra_places > 0) {
      ++size;
      --extra_places;
    } else {
      continue;
    }
    assignments[static_cast<std::size_t>(i)] = c;
  }
  partition.assignments = assignments;
  partition.sizes = sizes;
  partition.distances.assign(static_cast<std::size_t>(n), 0.0f);
  partition.inertia = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = distance[static_cast<std::size_t>(i * k + assignments[static_cast<std::size_t>(i)])];
    partition.distances[static_cast<std::size_t>(i)] = static_cast<float>(d);
    partition.inertia += d;
  }
}

}  // namespace ladle::clustering
