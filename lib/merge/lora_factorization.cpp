#include "lib/merge/lora_factorization.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

#include "lib/merge/truncated_svd.h"
#include "lib/util/error.h"

namespace ladle::merge {

LoraFactors truncated_lora_factors(const at::Tensor& delta, std::int64_t rank, SingularValueSplit split) {
  if (delta.dim() != 2) throw Error("LoRA re-factorisation: the update is not a matrix");
  const std::int64_t most = std::min(delta.size(0), delta.size(1));
  if (rank < 1 || rank > most) {
    throw Error("LoRA re-factorisation: rank " + std::to_string(rank) + " is outside [1, " + std::to_string(most) +
                "] for a [" + std::to_string(delta.size(0)) + ", " + std::to_string(delta.size(1)) + "] update");
  }
  const SingularValueDecomposition svd = thin_svd(delta);
  const SingularValueDecomposition kept = svd.leading(rank);
  LoraFactors factors;
  const at::Tensor b_scale = split == SingularValueSplit::balanced ? kept.s.sqrt() : kept.s;
  factors.b = (kept.u * b_scale).contiguous();
  factors.a = kept.vh.contiguous();
  if (split == SingularValueSplit::balanced) factors.a = (factors.a * b_scale.unsqueeze(1)).contiguous();
  const at::Tensor squares = svd.s.to(at::kDouble).square();
  factors.kept_energy = squares.narrow(0, 0, rank).sum().item<double>();
  factors.total_energy = squares.sum().item<double>();
  return factors;
}

}  // namespace ladle::merge
