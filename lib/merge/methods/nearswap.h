// nearswap: take the other model's value where it is close to the base's (mergekit's nearswap,
// mergekit/merge_methods/nearswap.py; https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001).
#pragma once

#include "lib/merge/merge_method.h"

namespace ladle::merge {

class NearSwapMerge : public MergeMethod {
 public:
  std::string name() const override { return "nearswap"; }
  // t (required): the distance below which the other model's value is taken whole.
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return true; }
  void validate(const MethodInputs& inputs) const override;
  // Entry by entry, w = clamp(t / max(|θ₀ − θ₁|, 1e-6), 0, 1) and θ = w·θ₁ + (1 − w)·θ₀. Exactly one model besides
  // the base; the base alone passes through.
  at::Tensor merge(const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
