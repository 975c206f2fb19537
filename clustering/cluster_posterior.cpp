#include "clustering/cluster_posterior.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "lib/util/error.h"

namespace ladle::clustering {

FloatMatrix cluster_posterior(const FloatMatrix& embeddings, const FloatMatrix& centroids,
                              const ClusterPosteriorOptions& options) {
  if (centroids.rows == 0) throw Error("cluster posterior: no cluster centres");
  if (embeddings.cols != centroids.cols) {
    throw Error("cluster posterior: embeddings of dimension " + std::to_string(embeddings.cols) + ", centres of " +
                std::to_string(centroids.cols));
  }
  if (!(options.temperature > 0)) throw Error("cluster posterior: the temperature must be positive");
  if (options.top_k < 0) throw Error("cluster posterior: top_k must be 0 (all) or positive");
  const std::int64_t k = centroids.rows;
  const std::int64_t kept = options.top_k == 0 ? k : std::min(options.top_k, k);
  FloatMatrix weights(embeddings.rows, k);
  std::vector<double> logits(static_cast<std::size_t>(k));
  std::vector<std::int64_t> order(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < embeddings.rows; ++i) {
    for (std::int64_t j = 0; j < k; ++j) {
      double squared = 0;
      for (std::int64_t d = 0; d < embeddings.cols; ++d) {
        const double difference = static_cast<double>(embeddings.row(i)[d]) - centroids.row(j)[d];
        squared += difference * difference;
      }
      logits[static_cast<std::size_t>(j)] = -squared / options.temperature;
    }
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
      return logits[static_cast<std::size_t>(a)] > logits[static_cast<std::size_t>(b)];
    });
    // The softmax over the kept clusters, shifted by the largest logit so that exp cannot overflow.
    const double largest = logits[static_cast<std::size_t>(order.front())];
    double sum = 0;
    for (std::int64_t r = 0; r < kept; ++r) {
      sum += std::exp(logits[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])] - largest);
    }
    for (std::int64_t r = 0; r < kept; ++r) {
      const std::int64_t j = order[static_cast<std::size_t>(r)];
      weights.row(i)[j] = static_cast<float>(std::exp(logits[static_cast<std::size_t>(j)] - largest) / sum);
    }
  }
  return weights;
}

}  // namespace ladle::clustering
