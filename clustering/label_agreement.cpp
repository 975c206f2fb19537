#include "clustering/label_agreement.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <utility>

#include "lib/util/error.h"

namespace ladle::clustering {
namespace {

// Point counts per (cluster, label) pair, per cluster and per label.
struct Contingency {
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> joint;
  std::map<std::int64_t, std::int64_t> clusters;
  std::map<std::int64_t, std::int64_t> labels;
  double total = 0.0;
};

Contingency contingency(const std::vector<std::int64_t>& clusters, const std::vector<std::int64_t>& labels,
                        const char* measure) {
  if (clusters.size() != labels.size()) {
    throw Error(std::string(measure) + ": " + std::to_string(clusters.size()) + " cluster ids but " +
                std::to_string(labels.size()) + " labels");
  }
  if (clusters.empty()) throw Error(std::string(measure) + ": no points");
  Contingency table;
  for (std::size_t i = 0; i < clusters.size(); ++i) {
    ++table.joint[{clusters[i], labels[i]}];
    ++table.clusters[clusters[i]];
    ++table.labels[labels[i]];
  }
  table.total = static_cast<double>(clusters.size());
  return table;
}

double entropy(const std::map<std::int64_t, std::int64_t>& counts, double total) {
  double h = 0.0;
  for (const auto& [value, count] : counts) {
    const double p = static_cast<double>(count) / total;
    h -= p * std::log(p);
  }
  return h;
}

}  // namespace

std::vector<std::int64_t> label_ids(const std::vector<std::string>& labels) {
  std::unordered_map<std::string, std::int64_t> ids;
  std::vector<std::int64_t> result;
  result.reserve(labels.size());
  for (const auto& label : labels) {
    result.push_back(ids.emplace(label, static_cast<std::int64_t>(ids.size())).first->second);
  }
  return result;
}

double purity(const std::vector<std::int64_t>& clusters, const std::vector<std::int64_t>& labels) {
  const Contingency table = contingency(clusters, labels, "purity");
  std::map<std::int64_t, std::int64_t> majority;
  for (const auto& [pair, count] : table.joint) {
    auto& best = majority[pair.first];
    best = std::max(best, count);
  }
  double agreeing = 0.0;
  for (const auto& [cluster, count] : majority) agreeing += static_cast<double>(count);
  return agreeing / table.total;
}

double normalized_mutual_information(const std::vector<std::int64_t>& clusters,
                                     const std::vector<std::int64_t>& labels) {
  const Contingency table = contingency(clusters, labels, "normalized mutual information");
  if (table.clusters.size() == 1 && table.labels.size() == 1) return 1.0;
  double mutual_information = 0.0;
  for (const auto& [pair, count] : table.joint) {
    const double n = static_cast<double>(count);
    const double row = static_cast<double>(table.clusters.at(pair.first));
    const double column = static_cast<double>(table.labels.at(pair.second));
    mutual_information += n / table.total * std::log(table.total * n / (row * column));
  }
  // sklearn clips tiny negative rounding to 0, and then returns 0.
  if (mutual_information <= 0.0) return 0.0;
  const double normaliser = (entropy(table.clusters, table.total) + entropy(table.labels, table.total)) / 2.0;
  return mutual_information / normaliser;
}

}  // namespace ladle::clustering
