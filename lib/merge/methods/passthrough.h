// passthrough: one input copied through, optionally scaled (mergekit's PassthroughMerge,
// mergekit/merge_methods/passthrough.py); frankenmerges stack layers of different models with it.
#pragma once

#include "lib/merge/merge_method.h"

namespace ladle::merge {

class PassthroughMerge : public MergeMethod {
 public:
  std::string name() const override { return "passthrough"; }
  // scale (per model, 1; mergekit's default "none" multiplies by nothing, which is the same numbers). Per model as
  // in mergekit, where it is a tensor parameter: a frankenmerge scales each slice source under
  // slices[].sources[].parameters (or models[].parameters); a slice's or the top-level value applies to every one.
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return false; }
  void validate(const MethodInputs& inputs) const override;
  // scale·θ for exactly one input: one model, or the base alone (mergekit counts a base like any input), each with
  // its own scale.
  at::Tensor merge(const MethodInputs& inputs) const override;

 private:
  // The base's scale: its own (MethodInputs::base_parameters, which the planner fills), else the method-wide value,
  // else the default.
  double base_scale(const MethodInputs& inputs) const;
};

}  // namespace ladle::merge
