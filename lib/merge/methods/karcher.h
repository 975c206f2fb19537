// karcher: the Riemannian (Karcher) mean of the models' directions on the unit sphere, scaled by their mean norm
// (mergekit's KarcherMerge, mergekit/merge_methods/karcher.py; https://en.wikipedia.org/wiki/Karcher_mean).
#pragma once

#include "lib/merge/merge_method.h"

namespace ladle::merge {

class KarcherMerge : public MergeMethod {
 public:
  std::string name() const override { return "karcher"; }
  // max_iter (10), tol (1e-5), as mergekit.
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return false; }
  void validate(const MethodInputs& inputs) const override;
  // Every input, the base included when given (mergekit gathers it like any model), weighs 1/N. With uᵢ = vᵢ/‖vᵢ‖
  // over the inputs whose norm exceeds tol, starting from the normalised mean of the uᵢ, it repeats at most
  // max_iter times: T = Σ aᵢ·θᵢ/sin θᵢ·(uᵢ − cos θᵢ·u) over the uᵢ with θᵢ = acos⟨u, uᵢ⟩ ≥ tol (the Riemannian
  // log map), stop when ‖T‖ < tol, else u ← cos‖T‖·u + sin‖T‖·T/‖T‖ (the exponential map), renormalised. The
  // result is (Σᵢ ‖vᵢ‖/N)·u, the mean norm over all inputs, zero ones included. All inputs below tol give zeros.
  at::Tensor merge(const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
