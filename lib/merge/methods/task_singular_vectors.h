// tsv_m: Task Singular Vectors Merging (Gargiulo et al., CVPR 2025, "Task Singular Vectors: Reducing Task
// Interference in Model Merging", Sec. 4; FusionBench's TaskSingularVectorMerging, method/task_singular_vector).
#pragma once

#include "lib/merge/methods/spectral_merge.h"

namespace ladle::merge {

class TaskSingularVectorMerge : public SpectralMerge {
 public:
  std::string name() const override { return "tsv_m"; }

 protected:
  // For T task matrices [m, n] of rank r = min(m, n) each:
  //   1. keep each τᵢ's k = ⌊r/T⌋ leading singular components Uᵢ, Σᵢ, Vᵢ (the paper's low-rank approximation;
  //      r < T keeps none, so such a matrix keeps the base's values, as FusionBench's int(r · 1/T) = 0 does);
  //   2. concatenate U = [U₁ … U_T], Σ = diag(Σ₁ … Σ_T), V = [V₁ … V_T];
  //   3. orthogonalise (Eq. 7): U⊥ = P_U·Q_Uᵀ and V⊥ = P_V·Q_Vᵀ from the SVDs U = P_U·S·Q_Uᵀ, V = P_V·S'·Q_Vᵀ;
  //   4. M = U⊥·Σ·V⊥ᵀ.
  // One task returns τ₁ itself (U and V are already orthonormal), so alpha 1 gives the fine-tuned model.
  // Departures, where FusionBench's result depends on which orthonormal completion LAPACK returns: a task's
  // components past its numerical rank are not kept (their singular values are 0 and their directions arbitrary),
  // and a rank-deficient U or V (identical or dependent tasks) is orthogonalised on its range only
  // (orthonormal_factor). With those rules T copies of one τ give its rank-⌊r/T⌋ truncation.
  at::Tensor matrix_update(const std::vector<at::Tensor>& task_matrices, const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
