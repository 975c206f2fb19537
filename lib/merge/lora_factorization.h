// A weight update re-factorised as a LoRA pair by truncated SVD (Eckart–Young: the best rank-k approximation in
// Frobenius norm keeps the k largest singular values), and the energy that keeps.
//
// Convention (PEFT's add_weighted_adapter with combination_type "svd"): ΔW = U·diag(S)·Vᵀ,
// B' = U_k·diag(S_k) [out, k], A' = V_kᵀ [k, in], and the new adapter has r = lora_alpha = k, so its scale
// α/r is 1 and B'·A' is the update itself.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ladle::merge {

struct LoraFactors {
  at::Tensor a;             // A' = V_kᵀ, [k, in]
  at::Tensor b;             // B' = U_k·diag(S_k), [out, k]
  double kept_energy = 0;   // Σ_{i<k} σᵢ²: the squared Frobenius norm of B'·A'
  double total_energy = 0;  // Σᵢ σᵢ² = ‖ΔW‖²_F

  // kept_energy / total_energy; 1 for a zero update (nothing to lose).
  double energy_fraction() const { return total_energy > 0 ? kept_energy / total_energy : 1.0; }
};

// The rank-`rank` factors of `delta` [out, in] (any floating dtype; the SVD runs in fp32, or fp64 for fp64
// input, and the factors come back in that dtype). Throws ladle::Error when `delta` is not a matrix or `rank` is
// not in [1, min(out, in)].
LoraFactors truncated_lora_factors(const at::Tensor& delta, std::int64_t rank);

}  // namespace ladle::merge
