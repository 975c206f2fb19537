// arcee_fusion: keep the other model's changes only where they matter most (mergekit's ArceeFusionMerge,
// mergekit/merge_methods/arcee_fusion.py).
#pragma once

#include "lib/merge/merge_method.h"

namespace ladle::merge {

class ArceeFusionMerge : public MergeMethod {
 public:
  std::string name() const override { return "arcee_fusion"; }
  std::vector<ParameterSpec> parameters() const override { return {}; }
  bool requires_base() const override { return true; }
  void validate(const MethodInputs& inputs) const override;
  // Importance I = |θ₁ − θ₀| · KL(p‖q) with p = softmax(θ₁) + 1e-8 and q = softmax(θ₀) + 1e-8 along the last
  // dimension (one KL per row, a 0-d or 1-D tensor is one row); threshold = median + 1.5·IQR of I, each quantile
  // q taken as sorted(I)[⌊q·(n − 1)⌋]; θ = θ₀ + (θ₁ − θ₀)·[I ≥ threshold]. mergekit estimates the quantiles from
  // 10⁶ unseeded random entries when I has more; we sort all of them, so the result is exact and reproducible
  // (identical to mergekit up to 10⁶ entries). Exactly one model besides the base; the base alone passes through.
  at::Tensor merge(const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
