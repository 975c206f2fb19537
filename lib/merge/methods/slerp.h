// Spherical interpolation between two models: `slerp` (base and one model, mergekit's SlerpMerge) and `nuslerp`
// (two models by weight, optionally around a base; mergekit's NuSlerpMerge).
#pragma once

#include <ATen/core/Tensor.h>

#include "lib/merge/merge_method.h"

namespace ladle::merge {

// mergekit's slerp (mergekit/merge_methods/slerp.py, after
// https://gist.github.com/dvschultz/3af50c40df002da3b751efab1daddf2c)
// over the flattened tensors: with v̂ = v/‖v‖ (left as is when ‖v‖ ≤ 1e-8) and d = ⟨v̂₀, v̂₁⟩, it returns the lerp
// (1−t)·v₀ + t·v₁ when |d| > 0.9995 (nearly colinear), else sin((1−t)θ)/sin θ·v₀ + sin(tθ)/sin θ·v₁ with θ = acos d.
// The interpolation acts on the original vectors (not the normalised copies), so norms interpolate too.
at::Tensor slerp(double t, const at::Tensor& v0, const at::Tensor& v1);

// mergekit's nuslerp (mergekit/merge_methods/nuslerp.py): the same interpolation, either over the flattened
// tensors (flatten), or independently for every vector along the last dimension (dim 0 when row_wise), with
// v̂ = v / max(‖v‖, 1e-7) and the lerp taken where |sin θ| < 1e-8.
at::Tensor nuslerp(double t, const at::Tensor& v0, const at::Tensor& v1, bool row_wise, bool flatten);

class SlerpMerge : public MergeMethod {
 public:
  std::string name() const override { return "slerp"; }
  // t (required): 0 returns the base, 1 the other model.
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return true; }
  // Exactly one model besides the base; the base alone is returned unchanged (mergekit: one tensor passes through).
  void validate(const MethodInputs& inputs) const override;
  at::Tensor merge(const MethodInputs& inputs) const override;
};

class NuSlerpMerge : public MergeMethod {
 public:
  std::string name() const override { return "nuslerp"; }
  // weight (per model, required): t = w₂/(w₁ + w₂), 0.5 when |w₁ + w₂| < 1e-6 (mergekit's guard);
  // nuslerp_flatten (1), nuslerp_row_wise (0).
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return false; }
  // Exactly two models; with a base, interpolates their task vectors and adds the base back. A single input
  // (one model without a base, or the base alone) passes through, as in mergekit.
  void validate(const MethodInputs& inputs) const override;
  at::Tensor merge(const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
