// iso_c and iso_cts: isotropic merging (Marczak et al., ICML 2025, "No Task Left Behind: Isotropic Model Merging
// with Common and Task-Specific Subspaces"; the authors' iso-merging code and FusionBench's isotropic_merging).
// Both flatten the spectrum of the merged update: every kept direction gets the same singular value, the mean.
#pragma once

#include "lib/merge/methods/spectral_merge.h"

namespace ladle::merge {

// Iso-C (Sec. 4.1): with Σ τᵢ = U·diag(σ)·Vᵀ of rank ρ, M = σ̄·U_ρ·V_ρᵀ, σ̄ = (1/ρ)·Σ σⱼ.
// [the authors' code averages and keeps all min(m, n) components; the same for a full-rank sum, while for a
// rank-deficient one its extra directions are arbitrary (LAPACK's completion) and its σ̄ counts zeros]
class IsotropicCommonMerge : public SpectralMerge {
 public:
  std::string name() const override { return "iso_c"; }

 protected:
  at::Tensor matrix_update(const std::vector<at::Tensor>& task_matrices, const MethodInputs& inputs) const override;
};

// Iso-CTS (Sec. 4.2, Algorithm 1), for T task matrices [m, n], r = min(m, n), f = common_space_fraction:
//   1. sizes: k = ⌊r·f⌋; s = round((r − k)/T) per task (Python's round, half to even), at most ⌊r/T⌋; k = r − T·s,
//      so the common and the T task-specific subspaces fill r directions [the authors' code, without the cap,
//      which only binds when ⌊r·f⌋ < T/2 and would make k negative];
//   2. common subspace: the k leading components U_c, σ_c, V_c of Σ τᵢ;
//   3. task-specific subspaces: the s leading components of each τᵢ − U_c·U_cᵀ·τᵢ (τᵢ with the common directions
//      projected out);
//   4. orthogonalise the concatenations U = [U_c U₁ … U_T], V = [V_c V₁ … V_T] (orthonormal_factor, as TSV-M);
//   5. M = σ̄·U⊥·V⊥ᵀ with σ̄ the mean of all kept singular values.
// Components past a matrix's numerical rank are not kept, as for Iso-C. f = 1 is Iso-C.
class IsotropicCommonAndTaskMerge : public SpectralMerge {
 public:
  std::string name() const override { return "iso_cts"; }

 protected:
  // common_space_fraction (0.8, the authors' and FusionBench's default), in (0, 1].
  std::vector<ParameterSpec> extra_parameters() const override;
  at::Tensor matrix_update(const std::vector<at::Tensor>& task_matrices, const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
