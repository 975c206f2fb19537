// The cluster posterior c-BTM weights its experts by (Gururangan et al. 2023, "Scaling Expert Language Models with
// Unsupervised Domain Discovery", section 2.3): for an embedding e and the K cluster centres c_j,
//   w_j ∝ exp(−‖e − c_j‖² / T)  over the top_k nearest centres, renormalised over them; 0 for the others.
// Their evaluation scripts (metaseq_cli.eval_cbtm) pass --temperature 0.1; top_k 0 keeps every cluster.
#pragma once

#include <cstdint>

#include "clustering/float_matrix.h"

namespace ladle::clustering {

struct ClusterPosteriorOptions {
  double temperature = 0.1;  // T [c-BTM's scripts: 0.1]
  std::int64_t top_k = 0;    // clusters kept per embedding (0: all K)
};

// [N, K]: row i the weights of the K clusters for embeddings row i, each row summing to 1 (ties in distance are
// kept in cluster order). Throws ladle::Error when the dimensions differ, there are no centres, the temperature is
// not positive or top_k is negative.
FloatMatrix cluster_posterior(const FloatMatrix& embeddings, const FloatMatrix& centroids,
                              const ClusterPosteriorOptions& options = {});

}  // namespace ladle::clustering
