// ram and ramplus_tl: Reinforced Agent Merging (https://arxiv.org/abs/2601.13572), as mergekit defines them
// (mergekit/merge_methods/ram.py). The paper's exact formulation was not available to us; these follow mergekit's
// code, which is what the configs that name these methods run.
//
// With τᵢ = θᵢ − θ₀ and entry j of model i "contributing" when |τᵢⱼ| > epsilon, cⱼ = number of contributors:
//   ram:        θ = θ₀ + Σᵢ τᵢⱼ·[i contributes]·([cⱼ = 1] + [cⱼ > 1]/cⱼ)
//               (an entry changed by one model keeps that change; one changed by several takes their mean)
//   ramplus_tl: as ram, but a model's unique entries are scaled by λᵢ = 1 + r·clamp(ρᵢ, 0, α), with
//               ρᵢ = (its contributing entries shared with others) / max(its unique contributing entries, epsilon)
//               computed over this tensor ("tensor-local").
#pragma once

#include "lib/merge/merge_method.h"

namespace ladle::merge {

class RamMerge : public MergeMethod {
 public:
  // plus: ramplus_tl instead of ram.
  explicit RamMerge(bool plus) : plus_(plus) {}
  std::string name() const override { return plus_ ? "ramplus_tl" : "ram"; }
  // epsilon (1e-5); ramplus_tl adds r (0.1) and alpha (0.2).
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return true; }
  void validate(const MethodInputs& inputs) const override;
  // The base alone passes through.
  at::Tensor merge(const MethodInputs& inputs) const override;

 private:
  bool plus_;
};

}  // namespace ladle::merge
