// The per-step merge of online merging optimizers (Lu et al. 2024, "Online Merging Optimizers for Boosting
// Rewards and Mitigating Tax in Alignment", arXiv 2405.17931): the update Δ an optimizer proposes for one tensor
// is merged with a reference task vector τ_ref = θ_ref − θ_base (in the paper the SFT model's delta from the
// pretrained one) by a sparse merge, and the merged update is what gets applied.
//
// The paper's idea (abstract): "merge gradients with the parameter differences between SFT and pretrained models
// at every step", which "steers the gradient towards maximizing rewards in the direction of SFT optimization",
// with two operators, OnDARE (random drop and rescale) and OnTIES (magnitude trim and sign consensus). The
// method section itself was not available to us (the stored reference corpus holds no copy of the paper), so the
// formulation below is ours, chosen so that each operator is exactly the merge engine's offline method applied
// to the two deltas {Δ, τ_ref} over a zero base:
//
//   OnDARE:  M = w_u · DARE_p(Δ) + w_r · DARE_p(τ_ref)
//            DARE_p keeps each entry with probability p = density and divides kept ones by p (Yu et al. 2024,
//            eq. 2): the engine's dare_linear with rescale_by_probability, normalize off.
//   OnTIES:  Δ̂ = trim_p(Δ), τ̂ = trim_p(τ_ref) (the ⌊p·n⌋ largest |·| of each tensor, ties to the lower index);
//            s = sign(w_u·Δ̂ + w_r·τ̂) (0 → +); M = w_u·Δ̂·[sign Δ̂ = s] + w_r·τ̂·[sign τ̂ = s]
//            (Yadav et al. 2023: trim, elect, disjoint merge): the engine's ties with normalize off.
//
// Why a disjoint *sum* and not TIES' disjoint mean (normalize, dividing by the weights that agree): the
// reference weight is a per-step fraction of τ_ref (it is added at every step, so after T steps about T·w_r of
// it has been applied). Dividing by the agreeing weights would apply the *whole* w_r·τ̂/w_r = τ̂ at every entry
// where only the reference survives, i.e. a full reference fine-tune per step.
//
// Masks are drawn afresh at every step from `seed` (the caller derives it from the run's seed, the step and the
// tensor), and each operand draws its own mask (model_seed), as the engine does for its inputs.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace ladle::merge {

enum class OnlineMergeOperator {
  ondare,  // random drop with keep probability `density`, kept entries divided by it, weighted sum
  onties,  // magnitude trim to the top `density`, sign election, disjoint weighted sum
};

struct OnlineMergeOptions {
  OnlineMergeOperator op = OnlineMergeOperator::ondare;  // which sparse merge
  double density = 1.0;           // fraction of entries kept, in (0, 1]; 1 keeps everything (no rescale)
  double update_weight = 1.0;     // w_u: weight of the optimizer's update Δ
  double reference_weight = 0.0;  // w_r: weight of τ_ref per step (a small fraction: it is added every step)
};

// "ondare" / "onties".
const char* online_merge_operator_name(OnlineMergeOperator op);
// The operator of that name; throws ladle::Error listing the names otherwise.
OnlineMergeOperator online_merge_operator_from_name(const std::string& name);
// Throws ladle::Error naming the first option out of range (density outside (0, 1], a weight negative or not
// finite).
void validate(const OnlineMergeOptions& options);

// The merged update M for one tensor: update (Δ) and reference (τ_ref) are fp32 CPU tensors of the same shape;
// the result is fp32 of that shape. `seed` draws OnDARE's masks (unused by OnTIES). With density 1 and
// reference_weight 0 and update_weight 1 the result is Δ bit for bit (entries equal to ±0 become +0).
at::Tensor merge_update(const at::Tensor& update, const at::Tensor& reference, const OnlineMergeOptions& options,
                        std::uint64_t seed);

}  // namespace ladle::merge
