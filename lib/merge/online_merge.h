// The per-step merge of online merging optimizers (Lu et al. 2024, "Online Merging Optimizers for Boosting
// Rewards and Mitigating Tax in Alignment", arXiv 2405.17931): the update an optimizer proposes for one tensor is
// merged with the reference task vector τ_ref = θ_ref − θ_base (in the paper the SFT model's delta from the
// pretrained one) by a sparse merge, and the merged update is what gets applied.
//
// The formulation is the authors' (their reference optimizers ODAdamW and OTAdamW, QwenLM/online_merging_optimizers,
// online_merging/optimizers.py), with α = reference_weight and p = density (their reserve_p):
//
//   once, before training:  τ̂ = OnDARE: clamp(DARE_p(τ_ref), ±clip)   OnTIES: trim_p(τ_ref)
//   at every merge step, for the update D (the optimizer's Δ, or the sum of the last k with merge_every = k):
//     OnDARE:  D̃ = DARE_p(D);                 M = α·τ̂ + (1 − α)·D̃
//     OnTIES:  D̂ = trim_p(D); s = sign(τ̂ + D̂) (0 → +);
//              M = α·τ̂·[sign τ̂ = s] + (1 − α)·D̂·[sign D̂ = s]
//
// DARE_p keeps each entry with probability p and divides kept ones by p (Yu et al. 2024, eq. 2; the authors apply
// it as torch's dropout); trim_p keeps the ⌊p·n⌋ largest |·| of the tensor (ties to the lower index). With
// `rescale` the sparsified operand is instead scaled to its original L1 norm (the authors' `rescale`, off by
// default; OnDARE then clamps the update to ±clip as they do). Every operator is the merge engine's own code
// (lib/merge/methods/sparsification.h, generalized_task_arithmetic.h's sign election).
//
// Note what the authors' formulation implies: α·τ̂ is added at every merge step in full (so α is small, 1e-7 at
// a learning rate of 1e-6 in their DPO runs), and OnTIES elects signs from the unweighted sum τ̂ + D̂, so the
// reference's signs filter the update wherever |τ̂| dominates, even at α = 0. `sign_election: weighted` elects
// from α·τ̂ + (1 − α)·D̂ instead (TIES as mergekit weights it), which at α = 0 leaves the update unfiltered.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace ladle::merge {

enum class OnlineMergeOperator {
  ondare,  // random drop with keep probability `density`, kept entries divided by it
  onties,  // magnitude trim to the top `density`, sign election, disjoint weighted sum
};

enum class OnlineSignElection {
  sum,       // s = sign(τ̂ + D̂): the authors' OTAdamW
  weighted,  // s = sign(α·τ̂ + (1 − α)·D̂): TIES' election over the weighted operands
};

struct OnlineMergeOptions {
  OnlineMergeOperator op = OnlineMergeOperator::ondare;  // which sparse merge
  double density = 1.0;           // p: fraction of entries kept, in (0, 1]; 1 keeps everything (no rescale)
  double reference_weight = 0.0;  // α ∈ [0, 1]: weight of τ̂ at each merge step; the update gets 1 − α
  bool rescale = false;           // scale each sparsified operand to its L1 norm instead of 1/p (OnDARE) or 1 (OnTIES)
  double clip = 1.0;              // OnDARE: τ̂ (and, with rescale, D̃) clamped to ±clip; 0 turns clamping off
  OnlineSignElection election = OnlineSignElection::sum;  // OnTIES only
};

// "ondare" / "onties".
const char* online_merge_operator_name(OnlineMergeOperator op);
// The operator of that name; throws ladle::Error listing the names otherwise.
OnlineMergeOperator online_merge_operator_from_name(const std::string& name);
// "sum" / "weighted", and back (throws ladle::Error listing the names).
const char* online_sign_election_name(OnlineSignElection election);
OnlineSignElection online_sign_election_from_name(const std::string& name);
// Throws ladle::Error naming the first option out of range (density outside (0, 1], reference weight outside
// [0, 1], clip negative or not finite).
void validate(const OnlineMergeOptions& options);

// τ̂ for one tensor: τ_ref (fp32, CPU) sparsified as the operator asks, once for the whole run. `seed` draws
// OnDARE's mask (unused by OnTIES).
at::Tensor sparsify_reference(const at::Tensor& reference, const OnlineMergeOptions& options, std::uint64_t seed);

// The merged update M for one tensor: `update` (D) and `sparse_reference` (τ̂ from sparsify_reference) are fp32
// tensors of the same shape; the result is fp32 of that shape. `seed` draws OnDARE's mask of D. With density 1 and
// reference weight 0, OnDARE (and OnTIES with weighted election) return D bit for bit (−0 becomes +0).
at::Tensor merge_update(const at::Tensor& update, const at::Tensor& sparse_reference, const OnlineMergeOptions& options,
                        std::uint64_t seed);

}  // namespace ladle::merge
