// consensus_ta and consensus_ties: Consensus Merging (Wang et al., ICML 2024, "Localizing Task Information for
// Improved Model Merging and Compression", Sec. 4; the authors' tall_masks code, src/eval/aggregation.py and
// src/utils/tallmask_utils.py).
//
// With τ_t = θ_t − θ₀ and τ_MTL the multi-task vector of task arithmetic (consensus_ta) or TIES (consensus_ties),
// computed as those methods compute it with lambda 1:
//   TALL mask of task t (Eq. 3):  m_t = [ |τ_t| ≥ λ_t·|τ_MTL − τ_t| ]        (θ_MTL − θ_t = τ_MTL − τ_t)
//   consensus mask (Eq. 5):       m = [ Σ_t m_t ≥ k ]
//   θ = θ₀ + lambda·(m ⊙ τ_MTL)
// Entries that matter to fewer than k tasks are dropped: k = 2 removes the "selfish" weights one task alone uses and
// the "catastrophic" ones no task uses; k = 1 only the latter; k = 0 keeps all, which is the multi-task method
// itself. The paper selects each λ_t on a task's validation data; without data it is one method-wide value.
#pragma once

#include "lib/merge/merge_method.h"
#include "lib/merge/methods/generalized_task_arithmetic.h"

namespace ladle::merge {

// The TALL mask of one task (Eq. 3): [ |τ_t| ≥ λ·|τ_MTL − τ_t| ].
at::Tensor tall_mask(const at::Tensor& task_vector, const at::Tensor& multi_task_vector, double lambda);

class ConsensusMerge : public MergeMethod {
 public:
  // ties: TIES (Yadav et al. 2023) builds τ_MTL, else task arithmetic.
  explicit ConsensusMerge(bool ties);

  std::string name() const override;
  // The multi-task method's parameters (task_arithmetic's or ties', see generalized_task_arithmetic.h) with
  // weight 1 by default (the paper's plain sum) and, for TIES, density 0.2 and normalize false: the authors'
  // ties_merging(reset_thresh=20, merge_func="dis-sum") [mergekit's ties: density 1, normalize true]; plus
  //   k (2, the authors' prun_thre_k): the fewest TALL masks that must keep an entry, a whole number ≤ T;
  //   tall_mask_lambda (0.6, FusionBench's tall_mask default; the authors search 0.2 … 0.6 on validation data).
  // lambda scales the masked τ_MTL (1).
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return true; }
  void validate(const MethodInputs& inputs) const override;
  // The base alone passes through; one model with k ≤ 1 gives θ₀ + lambda·τ_MTL.
  at::Tensor merge(const MethodInputs& inputs) const override;
  // As the multi-task method: ties with global_trim.
  bool needs_global_magnitude_thresholds(const std::map<std::string, double>& parameters) const override;

 protected:
  // The multi-task method's inputs: the task vectors as models over a zero base (so τ_MTL comes back without the
  // cancellation of θ₀ + τ_MTL − θ₀), every parameter resolved with this method's defaults, lambda 1.
  MethodInputs multi_task_inputs(const MethodInputs& inputs) const;

  // τ_MTL of the inputs (τ_t are multi_task_inputs(inputs).models).
  at::Tensor multi_task_vector(const MethodInputs& multi_task) const { return multi_task_.merge(multi_task); }

 private:
  bool ties_;
  GeneralizedTaskArithmeticMerge multi_task_;
};

// tall_mask: one task's model as TALL masks retrieve it from the task arithmetic merge (the paper's Sec. 3,
// "TALL masks" for compression): θ = θ₀ + lambda·(m_task ⊙ τ_MTL), m_task the TALL mask above. Merging, it localises
// what of the multi-task vector one task uses; run once per task it reconstructs every fine-tune from one τ_MTL.
class TallMaskMerge : public ConsensusMerge {
 public:
  TallMaskMerge() : ConsensusMerge(/*ties=*/false) {}

  std::string name() const override { return "tall_mask"; }
  // consensus_ta's parameters without k, plus task (required): which model's mask, 1 for the first of `models`.
  std::vector<ParameterSpec> parameters() const override;
  void validate(const MethodInputs& inputs) const override;
  at::Tensor merge(const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
