// How well a clustering agrees with reference labels (the records' tasks): purity and normalised mutual
// information. Both take one cluster id and one label id per point; the ids need not be dense.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ladle::clustering {

// Dense ids for string labels, in order of first appearance ("b", "a", "b" -> 0, 1, 0).
std::vector<std::int64_t> label_ids(const std::vector<std::string>& labels);

// The fraction of points whose label is their cluster's most common label: (1/N) Σ_k max_j |cluster_k ∩ label_j|
// (Manning, Raghavan & Schütze, Introduction to Information Retrieval, 2008, §16.3). 1 when every cluster holds
// one label; it rewards many small clusters, so read it with the NMI. Throws ladle::Error when the lists differ in
// length or are empty.
double purity(const std::vector<std::int64_t>& clusters, const std::vector<std::int64_t>& labels);

// Normalised mutual information with the arithmetic-mean normalisation, as scikit-learn's
// normalized_mutual_info_score computes it by default (average_method="arithmetic" since 0.22):
//   NMI = I(C; L) / ((H(C) + H(L)) / 2),  I = Σ_kj (n_kj/N) log(N n_kj / (n_k n_j)),  H = −Σ (n_i/N) log(n_i/N)
// (Vinh, Epps & Bailey, "Information Theoretic Measures for Clusterings Comparison", JMLR 11, 2010, the "sum"
// variant). sklearn's limit cases are kept: 1 when both have a single value (nothing is split, a perfect match),
// and 0 when the mutual information is 0. 1 for identical partitions up to renaming, about 0 for independent
// ones. Throws ladle::Error when the lists differ in length or are empty.
double normalized_mutual_information(const std::vector<std::int64_t>& clusters,
                                     const std::vector<std::int64_t>& labels);

}  // namespace ladle::clustering
