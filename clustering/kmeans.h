// k-means with faiss (faiss::Clustering, the implementation the DTM authors used): the points' partition into K
// clusters, with every point assigned to its nearest final centroid.
#pragma once

#include <cstdint>
#include <vector>

#include "clustering/float_matrix.h"
#include "clustering/partition.h"

namespace ladle::clustering {

// The knobs of faiss::ClusteringParameters that matter here, with ladle's defaults (faiss's own in brackets).
struct KMeansOptions {
  std::int64_t k = 4;   // clusters (DTM's K) [-]
  int iterations = 20;  // Lloyd iterations per run, faiss's niter [25]
  int nredo = 1;        // runs from different initial centroids; the lowest objective wins [1]
  int seed = 1234;      // seed of the initial centroids (run r uses seed + 1 + r·15486557) [1234]
  // Renormalise centroids to unit length after each update and assign by inner product (faiss's spherical
  // k-means, with an IndexFlatIP as faiss's Python Kmeans uses): for unit-length points such as the embedder's,
  // this clusters by cosine similarity. [false]
  bool spherical = false;
  // Fewer points than k times this is logged as a warning: too few to place the centroids well, and clusters may
  // end up tiny or empty (faiss prints that warning itself; ladle logs it instead). Non-empty clusters left with
  // fewer points than this are named in a warning too. [39]
  std::int64_t min_points_per_centroid = 39;
  // When positive and there are more than k times this many points, faiss trains on a random sample of that many
  // (and warns that it does); every point is still assigned. 0 trains on all points. [256]
  std::int64_t max_points_per_centroid = 0;
  bool use_gpu = true;  // train and assign on GPU 0 when faiss was built with GPU support and a GPU is present
};

struct KMeansResult {
  Partition partition;            // method "kmeans"; distances are squared L2 to the final centroids
  // faiss's objective (the sum of the distances its index reported) at each iteration, as its iteration_stats
  // keep them: with nredo > 1, every run's iterations up to the kept one, whose final objective is the last entry.
  std::vector<float> objectives;
  double seconds = 0.0;           // wall time of training and the final assignment
  bool used_gpu = false;          // whether faiss ran on a GPU
};

// Clusters the rows of `points`. Throws ladle::Error for K > N (no partition into more clusters than points
// exists), a non-positive K, iteration count or nredo, an empty matrix, or a non-finite value (naming its row).
// Clusters that end up empty (duplicate points, K close to N) are logged as a warning and listed by
// empty_clusters(); they are not an error, but a DTM run would train a sub-model on nothing, so the caller decides.
KMeansResult kmeans_partition(const FloatMatrix& points, const KMeansOptions& options = {});

}  // namespace ladle::clustering
