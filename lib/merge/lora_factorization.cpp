#include "lib/merge/lora_factorization.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

#include "lib/util/error.h"

namespace ladle::merge {

LoraFactors truncated_lora_factors(const at::Tensor& delta, std::int64_t rank, SingularValueSplit split) {
  if (delta.dim() != 2) throw Error("LoRA re-factorisation: the update is not a matrix");
  const std::int64_t most = std::min(delta.size(0), delta.size(1));
  if (rank < 1 || rank > most) {
    throw Error("LoRA re-factorisation: rank " + std::to_string(rank) + " is outside [1, " + std::to_string(most) +
                "] for a [" + std::to_string(delta.size(0)) + ", " + std::to_string(delta.size(1)) + "] update");
  }
  const at::Tensor matrix = delta.to(delta.scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
  const auto [u, s, vh] = at::linalg_svd(matrix, /*full_matrices=*/false);
  LoraFactors factors;
  const at::Tensor kept = s.narrow(0, 0, rank);
  const at::Tensor b_scale = split == SingularValueSplit::balanced ? kept.sqrt() : kept;
  factors.b = (u.narrow(1, 0, rank) * b_scale).contiguous();
  factors.a = vh.narrow(0, 0, rank).contiguous();
  if (split == SingularValueSplit::balanced) factors.a = (factors.a * b_scale.unsqueeze(1)).contiguous();
  const at::Tensor squares = s.to(at::kDouble).square();
  factors.kept_energy = squares.narrow(0, 0, rank).sum().item<double>();
  factors.total_energy = squares.sum().item<double>();
  return factors;
}

}  // namespace ladle::merge
