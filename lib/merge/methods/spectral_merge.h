// The frame shared by the merge methods that work on the singular value decomposition of task matrices (TSV-M,
// Iso-C, Iso-CTS): with τᵢ = θᵢ − θ₀ the task vectors and wᵢ the models' weights,
//
//   2-D tensors:     θ = θ₀ + α·M(w₁τ₁, …, w_Tτ_T)   M the method's matrix merge (matrix_update)
//   other tensors:   θ = θ₀ + α·(1/T)·Σ wᵢτᵢ          the mean, as the papers' code does for biases and norms
//
// α (alpha, default 1) is the papers' scaling coefficient (FusionBench's `alpha` / `scaling_factor`, 1.0 in its
// configs); the weights (default 1) scale each task vector first, as FusionBench's per-task alpha list does.
// The SVDs run in fp32 (fp64 for an fp64 working dtype); the result is rounded once to the working dtype.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "lib/merge/merge_method.h"

namespace ladle::merge {

class SpectralMerge : public MergeMethod {
 public:
  // weight (per model, 1) and alpha (1); a subclass adds its own with extra_parameters().
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return true; }
  void validate(const MethodInputs& inputs) const override;
  // The base alone passes through.
  at::Tensor merge(const MethodInputs& inputs) const override;

 protected:
  // M of the header, from the weighted task matrices wᵢτᵢ ([m, n] each, fp32 or fp64, T ≥ 1 of them).
  virtual at::Tensor matrix_update(const std::vector<at::Tensor>& task_matrices, const MethodInputs& inputs) const = 0;
  virtual std::vector<ParameterSpec> extra_parameters() const { return {}; }
};

}  // namespace ladle::merge
