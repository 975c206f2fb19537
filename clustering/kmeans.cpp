#include "clustering/kmeans.h"

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/utils/distances.h>

// faiss's GPU flat indexes, when the installed faiss was built with them (Debian's is CPU-only).
#if __has_include(<faiss/gpu/GpuIndexFlat.h>)
#include <faiss/gpu/GpuIndexFlat.h>
#include <faiss/gpu/StandardGpuResources.h>
#include <faiss/gpu/utils/DeviceUtils.h>
#define LADLE_FAISS_GPU 1
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "lib/log/log.h"
#include "lib/util/error.h"

namespace ladle::clustering {
namespace {

void check_options(const FloatMatrix& points, const KMeansOptions& options) {
  if (options.k < 1) throw Error("k-means needs k >= 1 clusters, got " + std::to_string(options.k));
  if (options.iterations < 1)
    throw Error("k-means needs at least 1 iteration, got " + std::to_string(options.iterations));
  if (options.nredo < 1) throw Error("k-means needs nredo >= 1 runs, got " + std::to_string(options.nredo));
  if (options.min_points_per_centroid < 0 || options.max_points_per_centroid < 0) {
    throw Error("k-means points-per-centroid limits must not be negative");
  }
  if (points.rows < 1 || points.cols < 1) {
    throw Error("k-means needs at least one point of at least one dimension, got " + std::to_string(points.rows) +
                " x " + std::to_string(points.cols));
  }
  // faiss draws its initial centroids with a permutation of int (rand_perm).
  if (points.rows > std::numeric_limits<int>::max() || points.cols > std::numeric_limits<int>::max()) {
    throw Error("k-means: " + std::to_string(points.rows) + " x " + std::to_string(points.cols) +
                " points exceed faiss's int range");
  }
  if (options.k > points.rows) {
    throw Error("cannot make " + std::to_string(options.k) + " clusters from " + std::to_string(points.rows) +
                " points: k must not exceed the number of points");
  }
}

// The row of the first NaN or infinity, or -1.
std::int64_t first_non_finite_row(const FloatMatrix& points) {
  const auto it = std::find_if(points.values.begin(), points.values.end(), [](float v) { return !std::isfinite(v); });
  return it == points.values.end() ? -1 : (it - points.values.begin()) / points.cols;
}

// The index that assigns points to centroids during training and at the end.
struct AssignmentIndex {
#ifdef LADLE_FAISS_GPU
  std::unique_ptr<faiss::gpu::StandardGpuResources> resources;  // declared first: outlives the index
#endif
  std::unique_ptr<faiss::Index> index;
  bool gpu = false;
};

AssignmentIndex make_index(int d, const KMeansOptions& options) {
  AssignmentIndex result;
#ifdef LADLE_FAISS_GPU
  if (options.use_gpu && faiss::gpu::getNumDevices() > 0) {
    result.resources = std::make_unique<faiss::gpu::StandardGpuResources>();
    faiss::gpu::GpuIndexFlatConfig config;
    config.device = 0;
    if (options.spherical) {
      result.index = std::make_unique<faiss::gpu::GpuIndexFlatIP>(result.resources.get(), d, config);
    } else {
      result.index = std::make_unique<faiss::gpu::GpuIndexFlatL2>(result.resources.get(), d, config);
    }
    result.gpu = true;
    return result;
  }
#endif
  if (options.spherical) {
    result.index = std::make_unique<faiss::IndexFlatIP>(d);
  } else {
    result.index = std::make_unique<faiss::IndexFlatL2>(d);
  }
  return result;
}

faiss::ClusteringParameters clustering_parameters(std::int64_t n, const KMeansOptions& options) {
  faiss::ClusteringParameters parameters;
  parameters.niter = options.iterations;
  parameters.nredo = options.nredo;
  parameters.seed = options.seed;
  parameters.spherical = options.spherical;
  parameters.verbose = false;
  // ladle logs the too-few-points warning itself (faiss would fprintf it).
  parameters.min_points_per_centroid = 0;
  // faiss subsamples when n > k * max_points_per_centroid; ceil(n / k) never does.
  const std::int64_t all_points = (n + options.k - 1) / options.k;
  parameters.max_points_per_centroid = static_cast<int>(
      std::min<std::int64_t>(options.max_points_per_centroid > 0 ? options.max_points_per_centroid : all_points,
                             std::numeric_limits<int>::max()));
  return parameters;
}

void warn_about_sizes(std::int64_t n, const KMeansOptions& options) {
  if (n < options.k * options.min_points_per_centroid) {
    LADLE_LOG(warning) << "k-means: " << n << " points for " << options.k << " clusters is fewer than "
                       << options.min_points_per_centroid
                       << " per cluster: centroids are poorly placed and clusters may be tiny or empty";
  }
  if (options.max_points_per_centroid > 0 && n > options.k * options.max_points_per_centroid) {
    LADLE_LOG(warning) << "k-means: faiss trains on a random sample of " << options.k * options.max_points_per_centroid
                       << " of the " << n << " points (max_points_per_centroid " << options.max_points_per_centroid
                       << "); every point is still assigned";
  }
}

// Squared L2 distances from the scores of the final search: the IP index reports x·c, and
// |x − c|² = |x|² + |c|² − 2 x·c. Rounding can make a distance slightly negative; it is clamped to 0.
std::vector<float> squared_distances(const FloatMatrix& points, const std::vector<float>& scores,
                                     const std::vector<faiss::Index::idx_t>& labels, const FloatMatrix& centroids,
                                     bool inner_product) {
  std::vector<float> distances(scores.size());
  std::vector<float> centroid_norms(static_cast<std::size_t>(centroids.rows));
  if (inner_product)
    faiss::fvec_norms_L2sqr(centroid_norms.data(), centroids.values.data(), centroids.cols, centroids.rows);
#pragma omp parallel for
  for (std::int64_t i = 0; i < points.rows; ++i) {
    const auto u = static_cast<std::size_t>(i);
    const float distance = inner_product ? faiss::fvec_norm_L2sqr(points.row(i), points.cols) +
                                               centroid_norms[static_cast<std::size_t>(labels[u])] - 2.0f * scores[u]
                                         : scores[u];
    distances[u] = std::max(distance, 0.0f);
  }
  return distances;
}

}  // namespace

KMeansResult kmeans_partition(const FloatMatrix& points, const KMeansOptions& options) {
  check_options(points, options);
  warn_about_sizes(points.rows, options);
  const auto start = std::chrono::steady_clock::now();
  const int d = static_cast<int>(points.cols);
  faiss::Clustering clustering(d, static_cast<int>(options.k), clustering_parameters(points.rows, options));
  AssignmentIndex index = make_index(d, options);
  try {
    clustering.train(points.rows, points.values.data(), *index.index);
  } catch (const faiss::FaissException& error) {
    if (const auto row = first_non_finite_row(points); row >= 0) {
      throw Error("k-means: point " + std::to_string(row) + " has a NaN or infinite value");
    }
    throw Error(std::string("faiss k-means failed: ") + error.what());
  }

  // faiss's last iteration assigned the points to the centroids before their last update; the partition is the
  // assignment to the final centroids, which train() left in the index.
  std::vector<faiss::Index::idx_t> labels(static_cast<std::size_t>(points.rows));
  std::vector<float> scores(labels.size());
  index.index->search(points.rows, points.values.data(), 1, scores.data(), labels.data());

  KMeansResult result;
  Partition& partition = result.partition;
  partition.method = "kmeans";
  partition.k = options.k;
  partition.assignments.assign(labels.begin(), labels.end());
  partition.sizes = cluster_sizes(partition.assignments, options.k);
  partition.centroids.rows = options.k;
  partition.centroids.cols = points.cols;
  partition.centroids.values = std::move(clustering.centroids);
  partition.distances = squared_distances(points, scores, labels, partition.centroids, options.spherical);
  for (float distance : partition.distances) partition.inertia += distance;
  for (const auto& stats : clustering.iteration_stats) result.objectives.push_back(stats.obj);
  result.used_gpu = index.gpu;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  for (std::size_t i = 0; i < clustering.iteration_stats.size(); ++i) {
    const auto& stats = clustering.iteration_stats[i];
    LADLE_LOG(debug) << "k-means iteration " << i << ": objective " << stats.obj << ", imbalance "
                     << stats.imbalance_factor << ", " << stats.nsplit << " empty clusters split";
  }
  std::string tiny;
  for (std::int64_t c = 0; c < options.k; ++c) {
    const auto size = partition.sizes[static_cast<std::size_t>(c)];
    if (size > 0 && size < options.min_points_per_centroid) {
      tiny += (tiny.empty() ? "" : ", ") + std::to_string(c) + " (" + std::to_string(size) + ")";
    }
  }
  if (!tiny.empty()) {
    LADLE_LOG(warning) << "k-means: clusters " << tiny << " hold fewer than " << options.min_points_per_centroid
                       << " points each";
  }
  if (const auto empty = empty_clusters(partition); !empty.empty()) {
    std::string list;
    for (auto c : empty) list += (list.empty() ? "" : ", ") + std::to_string(c);
    LADLE_LOG(warning) << "k-means left " << empty.size() << " of " << options.k << " clusters empty (" << list
                       << "): the " << points.rows
                       << " points have fewer distinct values than k, or k is close to their number";
  }
  return result;
}

}  // namespace ladle::clustering
