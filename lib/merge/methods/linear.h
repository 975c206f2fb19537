// linear: the weighted average Σ wᵢ·θᵢ / Σ wᵢ (Wortsman et al., "Model soups", ICML 2022; mergekit's `linear`).
// With equal weights it is the uniform soup; over the latest checkpoints of one run it is LAWA.
#pragma once

#include "lib/merge/merge_method.h"

namespace ladle::merge {

class LinearMerge : public MergeMethod {
 public:
  std::string name() const override { return "linear"; }
  // weight (per model, required); normalize (default 1: divide by Σ wᵢ, as mergekit's LinearMerge).
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return false; }
  void validate(const MethodInputs& inputs) const override;
  // Averages the base (when given) and the models. mergekit has no base in linear's math: a configured base is
  // one more input with its own weight (MethodInputs::base_parameters), and a base without a weight is an error.
  at::Tensor merge(const MethodInputs& inputs) const override;
  bool elementwise(const std::map<std::string, double>& /*parameters*/) const override { return true; }
  // Inputs come as stored: on the CPU one fused pass widens them block by block (no whole working copies).
  bool converts_inputs() const override { return true; }

 private:
  // The base's weight (when there is a base) followed by the models'.
  std::vector<double> weights(const MethodInputs& inputs) const;
};

}  // namespace ladle::merge
