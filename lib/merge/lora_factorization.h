// A weight update re-factorised as a LoRA pair by truncated SVD (Eckart–Young: the best rank-k approximation in
// Frobenius norm keeps the k largest singular values), and the energy that keeps.
//
// Convention (PEFT's add_weighted_adapter with combination_type "svd"): ΔW = U·diag(S)·Vᵀ,
// B' = U_k·diag(S_k) [out, k], A' = V_kᵀ [k, in], and the new adapter has r = lora_alpha = k, so its scale
// α/r is 1 and B'·A' is the update itself. With SingularValueSplit::balanced (mergekit-extract-lora's default
// distribute_scale) each factor takes √S_k instead: B' = U_k·diag(√S_k), A' = diag(√S_k)·V_kᵀ, the same product
// with factors of equal norm, which loses less when stored in bf16/fp16.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ladle::merge {

// Which factor carries the singular values.
enum class SingularValueSplit {
  on_b,      // B' = U_k·diag(S_k), A' = V_kᵀ (PEFT's add_weighted_adapter)
  balanced,  // B' = U_k·diag(√S_k), A' = diag(√S_k)·V_kᵀ (mergekit-extract-lora)
};

struct LoraFactors {
  at::Tensor a;             // A', [k, in]
  at::Tensor b;             // B', [out, k]
  double kept_energy = 0;   // Σ_{i<k} σᵢ²: the squared Frobenius norm of B'·A'
  double total_energy = 0;  // Σᵢ σᵢ² = ‖ΔW‖²_F

  // kept_energy / total_energy; 1 for a zero update (nothing to lose).
  double energy_fraction() const { return total_energy > 0 ? kept_energy / total_energy : 1.0; }
};

// The rank-`rank` factors of `delta` [out, in] (any floating dtype; the SVD runs in fp32, or fp64 for fp64
// input, and the factors come back in that dtype, as lib/merge/truncated_svd.h's thin_svd). Throws ladle::Error
// when `delta` is not a matrix or `rank` is not in [1, min(out, in)].
LoraFactors truncated_lora_factors(const at::Tensor& delta, std::int64_t rank,
                                   SingularValueSplit split = SingularValueSplit::on_b);

}  // namespace ladle::merge
