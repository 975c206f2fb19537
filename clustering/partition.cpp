#include "clustering/partition.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "clustering/npy.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_file.h"
#include "lib/io/strict_json.h"
#include "lib/text/seeded_permutation.h"
#include "lib/util/error.h"

namespace ladle::clustering {
namespace {

// Enough digits that a float reads back as the same float.
std::string float_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

std::int64_t integer_field(const nlohmann::json& object, const char* key, const std::string& label) {
  if (!object.contains(key) || !object[key].is_number_integer()) {
    throw Error(label + ": '" + key + "' is missing or not a whole number");
  }
  return object[key].get<std::int64_t>();
}

}  // namespace

std::vector<std::int64_t> cluster_sizes(const std::vector<std::int64_t>& assignments, std::int64_t k) {
  if (k < 1) throw Error("a partition needs at least one cluster, got k=" + std::to_string(k));
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(k), 0);
  for (std::size_t i = 0; i < assignments.size(); ++i) {
    if (assignments[i] < 0 || assignments[i] >= k) {
      throw Error("point " + std::to_string(i) + " is assigned to cluster " + std::to_string(assignments[i]) +
                  ", outside [0, " + std::to_string(k) + ")");
    }
    ++sizes[static_cast<std::size_t>(assignments[i])];
  }
  return sizes;
}

std::vector<std::int64_t> empty_clusters(const Partition& partition) {
  std::vector<std::int64_t> empty;
  for (std::size_t c = 0; c < partition.sizes.size(); ++c) {
    if (partition.sizes[c] == 0) empty.push_back(static_cast<std::int64_t>(c));
  }
  return empty;
}

Partition random_partition(const std::vector<std::int64_t>& sizes, std::uint64_t seed) {
  if (sizes.empty()) throw Error("a random split needs at least one cluster size");
  std::int64_t total = 0;
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    if (sizes[c] < 0) throw Error("cluster " + std::to_string(c) + " has negative size " + std::to_string(sizes[c]));
    total += sizes[c];
  }
  Partition partition;
  partition.method = "random";
  partition.k = static_cast<std::int64_t>(sizes.size());
  partition.sizes = sizes;
  partition.assignments.assign(static_cast<std::size_t>(total), 0);
  const auto permutation = text::seeded_permutation(static_cast<std::size_t>(total), seed);
  std::size_t next = 0;
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    for (std::int64_t j = 0; j < sizes[c]; ++j) {
      partition.assignments[permutation[next++]] = static_cast<std::int64_t>(c);
    }
  }
  return partition;
}

void set_mean_centroids(Partition& partition, const FloatMatrix& points) {
  if (static_cast<std::size_t>(points.rows) != partition.assignments.size()) {
    throw Error("the partition assigns " + std::to_string(partition.assignments.size()) + " points but " +
                std::to_string(points.rows) + " were given");
  }
  const std::int64_t d = points.cols;
  std::vector<double> sums(static_cast<std::size_t>(partition.k * d), 0.0);
  for (std::int64_t i = 0; i < points.rows; ++i) {
    double* sum = sums.data() + partition.assignments[static_cast<std::size_t>(i)] * d;
    const float* x = points.row(i);
    for (std::int64_t j = 0; j < d; ++j) sum[j] += x[j];
  }
  partition.centroids = FloatMatrix(partition.k, d);
  for (std::int64_t c = 0; c < partition.k; ++c) {
    const auto size = partition.sizes[static_cast<std::size_t>(c)];
    if (size == 0) continue;
    for (std::int64_t j = 0; j < d; ++j) {
      partition.centroids.row(c)[j] = static_cast<float>(sums[static_cast<std::size_t>(c * d + j)] / size);
    }
  }
  partition.distances.assign(static_cast<std::size_t>(points.rows), 0.0f);
  partition.inertia = 0.0;
  for (std::int64_t i = 0; i < points.rows; ++i) {
    const float* x = points.row(i);
    const float* centre = partition.centroids.row(partition.assignments[static_cast<std::size_t>(i)]);
    double distance = 0.0;
    for (std::int64_t j = 0; j < d; ++j) distance += (x[j] - centre[j]) * static_cast<double>(x[j] - centre[j]);
    partition.distances[static_cast<std::size_t>(i)] = static_cast<float>(distance);
    partition.inertia += distance;
  }
}

void write_partition(const std::filesystem::path& directory, const Partition& partition,
                     const std::vector<std::string>& tasks) {
  const std::size_t n = partition.assignments.size();
  if (!tasks.empty() && tasks.size() != n) {
    throw Error("write_partition: " + std::to_string(tasks.size()) + " tasks for " + std::to_string(n) + " points");
  }
  const bool with_distances = !partition.distances.empty();
  std::string lines;
  lines.reserve(n * 48);
  for (std::size_t i = 0; i < n; ++i) {
    lines += "{\"index\": " + std::to_string(i) + ", \"cluster\": " + std::to_string(partition.assignments[i]);
    if (!tasks.empty() && !tasks[i].empty()) lines += ", \"task\": " + nlohmann::json(tasks[i]).dump();
    if (with_distances) lines += ", \"distance\": " + float_text(partition.distances[i]);
    lines += "}\n";
  }
  io::write_file_atomically(directory / kAssignmentsFile, lines);
  if (partition.centroids.rows > 0) write_npy(directory / kCentroidsFile, partition.centroids);

  nlohmann::json sizes = {{"method", partition.method},
                          {"k", partition.k},
                          {"points", n},
                          {"sizes", partition.sizes},
                          {"empty_clusters", empty_clusters(partition)}};
  if (with_distances) sizes["inertia"] = partition.inertia;
  io::write_file_atomically(directory / kSizesFile, sizes.dump(2) + "\n");
}

Partition read_partition(const std::filesystem::path& directory) {
  const auto sizes_path = directory / kSizesFile;
  const nlohmann::json sizes = io::read_json_file(sizes_path, 4);
  const std::string sizes_label = sizes_path.string();
  if (!sizes.is_object() || !sizes.contains("method") || !sizes["method"].is_string()) {
    throw Error(sizes_label + ": 'method' is missing or not a string");
  }
  Partition partition;
  partition.method = sizes["method"].get<std::string>();
  partition.k = integer_field(sizes, "k", sizes_label);
  const std::int64_t points = integer_field(sizes, "points", sizes_label);

  const auto assignments_path = directory / kAssignmentsFile;
  std::ifstream in(assignments_path, std::ios::binary);
  if (!in) throw Error(assignments_path.string() + ": cannot open for reading");
  std::string line;
  std::size_t line_number = 0;
  bool with_distances = false;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string label = assignments_path.string() + ":" + std::to_string(line_number);
    const nlohmann::json record = io::parse_json_strict(line, label, 2);
    if (!record.is_object()) throw Error(label + ": not a JSON object");
    const std::int64_t index = integer_field(record, "index", label);
    if (index != static_cast<std::int64_t>(partition.assignments.size())) {
      throw Error(label + ": index " + std::to_string(index) + " where " +
                  std::to_string(partition.assignments.size()) + " was expected (points must be listed in order)");
    }
    const std::int64_t cluster = integer_field(record, "cluster", label);
    if (cluster < 0 || cluster >= partition.k) {
      throw Error(label + ": cluster " + std::to_string(cluster) + " is outside [0, " + std::to_string(partition.k) +
                  ")");
    }
    partition.assignments.push_back(cluster);
    const bool has_distance = record.contains("distance");
    if (line_number == 1) with_distances = has_distance;
    if (has_distance != with_distances) throw Error(label + ": 'distance' must be given on every line or on none");
    if (has_distance) {
      if (!record["distance"].is_number()) throw Error(label + ": 'distance' is not a number");
      partition.distances.push_back(record["distance"].get<float>());
    }
  }
  if (static_cast<std::int64_t>(partition.assignments.size()) != points) {
    throw Error(assignments_path.string() + ": " + std::to_string(partition.assignments.size()) + " points where " +
                sizes_label + " says " + std::to_string(points));
  }
  partition.sizes = cluster_sizes(partition.assignments, partition.k);
  if (!sizes.contains("sizes") || sizes["sizes"] != nlohmann::json(partition.sizes)) {
    throw Error(sizes_label + ": 'sizes' does not match the cluster counts of " + assignments_path.string());
  }
  if (!partition.distances.empty()) {
    if (!sizes.contains("inertia") || !sizes["inertia"].is_number()) {
      throw Error(sizes_label + ": 'inertia' is missing or not a number");
    }
    partition.inertia = sizes["inertia"].get<double>();
  }
  if (std::filesystem::exists(directory / kCentroidsFile)) {
    partition.centroids = read_npy(directory / kCentroidsFile);
    if (partition.centroids.rows != partition.k) {
      throw Error((directory / kCentroidsFile).string() + ": " + std::to_string(partition.centroids.rows) +
                  " centroids for k=" + std::to_string(partition.k));
    }
  }
  return partition;
}

}  // namespace ladle::clustering
