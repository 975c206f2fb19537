// multislerp: barycentric interpolation of several models on a hypersphere (mergekit's multislerp,
// mergekit/merge_methods/multislerp.py; https://goddard.blog/posts/multislerp-wow-what-a-cool-idea).
#pragma once

#include "lib/merge/merge_method.h"

namespace ladle::merge {

class MultiSlerpMerge : public MergeMethod {
 public:
  std::string name() const override { return "multislerp"; }
  // weight (per model, required); normalize_weights (1: divide the weights by their sum); eps (1e-8).
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return false; }
  void validate(const MethodInputs& inputs) const override;
  // With vᵢ the flattened models (their task vectors when a base is given), uᵢ = vᵢ/(‖vᵢ‖ + eps):
  //   m = Σ wᵢuᵢ / ‖Σ wᵢuᵢ‖                 the weighted mean direction
  //   τ = Σ wᵢ(uᵢ − ⟨uᵢ, m⟩m)               the weighted tangent vector at m
  //   r = (cos‖τ‖'·m + sin‖τ‖'/‖τ‖'·τ)·Σ wᵢ‖vᵢ‖   with ‖τ‖' = ‖τ‖ + eps (exponential map, weighted mean norm)
  // plus the base. A single model passes through. When ‖Σ wᵢuᵢ‖ < eps, two models fall back to Σ wᵢvᵢ (mergekit)
  // and more are an error (antipodal inputs), except when every vᵢ is zero (a tensor no model changed, e.g. a
  // frozen embedding), where the result is the base (mergekit raises there too).
  at::Tensor merge(const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
