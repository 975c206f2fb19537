// Partition: which cluster each point belongs to (k-means or a random split), with the clusters' centroids, and
// the files a partition is written to so that later stages (one fine-tune per cluster) can read it back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "clustering/float_matrix.h"

namespace ladle::clustering {

struct Partition {
  std::string method;                     // how it was made: "kmeans" or "random"
  std::int64_t k = 0;                     // number of clusters (some may be empty)
  std::vector<std::int64_t> assignments;  // [N] each point's cluster, in [0, k)
  std::vector<std::int64_t> sizes;        // [k] points per cluster
  FloatMatrix centroids;                  // [k, d] cluster centres; empty when no points were given
  std::vector<float> distances;           // [N] squared L2 distance of each point to its centroid; empty likewise
  double inertia = 0.0;                   // sum of distances: the k-means objective of these centroids
};

// Points per cluster: [k] counts of the assignments. Throws ladle::Error for an assignment outside [0, k).
std::vector<std::int64_t> cluster_sizes(const std::vector<std::int64_t>& assignments, std::int64_t k);

// The clusters that hold no point, in increasing order.
std::vector<std::int64_t> empty_clusters(const Partition& partition);

// A random split with exactly these cluster sizes: a seeded uniform permutation of the sum(sizes) points
// (text::seeded_permutation, the same on every platform), whose first sizes[0] entries go to cluster 0, the next
// sizes[1] to cluster 1, and so on. The DTM baseline splits the data at random into clusters as large as the
// k-means ones. Centroids and distances are left empty (see set_mean_centroids). Throws ladle::Error for an
// empty or negative size list.
Partition random_partition(const std::vector<std::int64_t>& sizes, std::uint64_t seed);

// Sets the centroids to the mean of each cluster's points (zero for an empty cluster), and the distances and
// inertia from them, e.g. to compare a random split's inertia with k-means'. Throws ladle::Error when the points
// and assignments differ in number.
void set_mean_centroids(Partition& partition, const FloatMatrix& points);

// The files of a written partition, inside its folder.
inline constexpr const char* kAssignmentsFile = "assignments.jsonl";  // {"index", "cluster", "task"?, "distance"?}
inline constexpr const char* kCentroidsFile = "centroids.npy";        // [k, d] float32, when there are centroids
inline constexpr const char* kSizesFile = "sizes.json";               // {"method", "k", "points", "sizes", ...}

// Writes assignments.jsonl (one line per point, in point order: {"index": i, "cluster": c, "task": t,
// "distance": d}, "task" only when tasks[i] is not empty, "distance" only with distances), centroids.npy (only
// with centroids) and sizes.json into `directory`, which must exist. `tasks` is empty or has one entry per point.
// Each file is written atomically. Throws ladle::Error naming the file on failure.
void write_partition(const std::filesystem::path& directory, const Partition& partition,
                     const std::vector<std::string>& tasks = {});

// Reads a partition written by write_partition (method, k, assignments, sizes, and distances, centroids and inertia
// when present). Every line and field is checked: indices must be 0..N-1 in order, clusters in [0, k), and the
// sizes must agree with the assignments. Throws ladle::Error naming the file and line.
Partition read_partition(const std::filesystem::path& directory);

}  // namespace ladle::clustering
