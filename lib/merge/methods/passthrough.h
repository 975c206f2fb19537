// passthrough: one input copied through, optionally scaled (mergekit's PassthroughMerge,
// mergekit/merge_methods/passthrough.py); frankenmerges stack layers of different models with it.
#pragma once

#include "lib/merge/merge_method.h"

namespace ladle::merge {

class PassthroughMerge : public MergeMethod {
 public:
  std::string name() const override { return "passthrough"; }
  // scale (1; mergekit's default "none" multiplies by nothing, which is the same numbers).
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return false; }
  // scale·θ for exactly one input: one model, or the base alone (mergekit counts a base like any input).
  at::Tensor merge(const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
