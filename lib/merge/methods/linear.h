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
  // Averages `models` only: like mergekit, linear has no notion of a base; a base model the config also lists
  // under `models` arrives there with its own weight. A base passed on its own is an error rather than ignored.
  at::Tensor merge(const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
