// fisher: Fisher-weighted averaging (Matena & Raffel, "Merging Models with Fisher-Weighted Averaging", NeurIPS
// 2022, eq. 3 with the diagonal Fisher): the mode of a product of Gaussian posteriors whose precisions are the
// models' diagonal Fisher information. Not a mergekit method; the name is ours.
#pragma once

#include "lib/merge/merge_method.h"

namespace ladle::merge {

class FisherMerge : public MergeMethod {
 public:
  std::string name() const override { return "fisher"; }
  // weight (per model, 1: the paper's λᵢ); fisher_floor (1e-6); normalize_fishers (1).
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return false; }
  void validate(const MethodInputs& inputs) const override;
  // Entry by entry, θ = Σ λᵢ·F̃ᵢ·θᵢ / Σ λᵢ·F̃ᵢ with F̃ᵢ = max(Fᵢ / ‖Fᵢ‖, floor), ‖Fᵢ‖ the L2 norm of model i's Fisher
  // over the whole model (MethodInputs::model_fisher_norms; each model then weighs the same in total, as the
  // reference implementation's normalize_fishers), or F̃ᵢ = max(Fᵢ, floor) without normalisation. The floor keeps
  // the divisor positive where every Fisher is 0 (the entries fall back to the λ-weighted mean there).
  // The Fishers come in MethodInputs::model_fishers, one per model. A base model is not used: Fisher merging has no
  // base, so a configured one is an error (list it under models with its Fisher).
  at::Tensor merge(const MethodInputs& inputs) const override;
  bool needs_model_fishers(const std::map<std::string, double>& /*parameters*/) const override { return true; }
};

}  // namespace ladle::merge
