// Online merging around any optimizer of the trainer (Lu et al. 2024, "Online Merging Optimizers for Boosting
// Rewards and Mitigating Tax in Alignment"): every `merge_every` steps the update D the wrapped optimizer proposed
// since the last merge (D = θ_after − θ_at_last_merge: one step's Δ when merge_every is 1, the authors' default) is
// merged tensor by tensor with the sparsified reference task vector τ̂ by lib/merge/online_merge.h (OnDARE or
// OnTIES), and the merged update M replaces it:
//   θ ← θ_after + (M − D),   M = merge(D, τ̂; density, reference weight α, seed of the step)
// As the authors' optimizers do with their `online_step` k: the k − 1 steps in between are plain steps, and the
// k-th rolls them back and applies the merge of their sum. Applying M − D keeps the plain optimizer bit for bit
// when the merge returns D unchanged (OnDARE at density 1 and α = 0). The wrapped optimizer's state (AdamW's
// moments, SGD's momentum) evolves from its own proposals, as in the authors' ODAdamW/OTAdamW, where the merge only
// changes what is applied. One difference: their AdamW decays the weights after the merge, outside it; here the
// wrapped optimizer's decoupled decay is part of its proposal D (with DARE's 1/p rescale the same in expectation;
// their DPO runs used no weight decay).
//
// State: the step count (which, with the seed, fixes every random mask, τ̂'s included) lives in the wrapped
// optimizer's state, and the update accumulated since the last merge (merge_every > 1) is a state tensor; the
// checkpoint's optimizer JSON also records the merge options and ‖τ_ref‖₂, and a resume with different ones is
// refused. τ_ref itself is not checkpointed: it is rebuilt from the reference and base folders.
//
// Memory: two fp32 copies of the trainable parameters (τ̂ and the update), three with merge_every > 1.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>

#include "lib/merge/online_merge.h"
#include "trainer/optimizer.h"

namespace ladle::trainer {

class OnlineMergingOptimizer final : public Optimizer {
 public:
  // `reference_task_vector` is τ_ref as a flat tensor with the layout (and dtype) of the parameter buffer (see
  // reference_task_vector below). Throws ladle::Error for a null inner optimizer, a mis-shaped τ_ref or options
  // out of range or merge_every < 1. τ̂ is drawn here, from `seed`.
  OnlineMergingOptimizer(std::unique_ptr<Optimizer> inner, FlatParameters& parameters,
                         const at::Tensor& reference_task_vector, merge::OnlineMergeOptions options,
                         std::int64_t merge_every, std::uint64_t seed);

  void step() override;

  // The inner optimizer's tensors, plus the update accumulated since the last merge when merge_every > 1.
  NamedTensors state_tensors() const override;
  // The inner optimizer's JSON plus "online_merging": the options, the seed and ‖τ_ref‖₂.
  nlohmann::json state_json() const override;
  // Throws ladle::Error when the checkpoint was written without online merging or with other options or τ_ref.
  void load_state(const NamedTensors& tensors, const nlohmann::json& json) override;

  const Optimizer& inner() const { return *inner_; }
  const merge::OnlineMergeOptions& options() const { return options_; }

 private:
  // This wrapper's own buffers (the accumulated update); the inner optimizer's are its own.
  std::vector<std::pair<std::string, at::Tensor>> buffers() const override;
  // The seed of the masks of parameter `slot` at step `step` (1-based; step 0 draws τ̂).
  std::uint64_t step_seed(std::int64_t step, std::size_t slot) const;
  // Replaces the update D held in update_ by its merge with τ̂, tensor by tensor: θ += M − D.
  void apply_merge();
  nlohmann::json merge_json() const;

  std::unique_ptr<Optimizer> inner_;
  merge::OnlineMergeOptions options_;
  std::int64_t merge_every_;
  std::uint64_t seed_;
  double reference_norm_;     // ‖τ_ref‖₂, to refuse a resume with another reference
  at::Tensor reference_;      // τ̂, flat, the parameter buffer's layout
  at::Tensor update_;         // scratch: θ before the inner step, then D
  at::Tensor accumulated_;    // merge_every > 1: the plain steps' updates since the last merge
};

// τ_ref = θ_ref − θ_base for every flattened parameter, as one flat tensor of the parameter buffer's layout and
// dtype: θ_ref from the Hugging Face folder `reference_model`, θ_base from `base_model`, or, when that is empty,
// the parameters' current values (the run's initial weights when called before training). Tensors are matched
// by parameter name; throws ladle::Error naming the folder and tensor when one is missing or mis-shaped.
at::Tensor reference_task_vector(const FlatParameters& parameters, const std::filesystem::path& reference_model,
                                 const std::filesystem::path& base_model = {});

// The trainer's hook: `optimizer` wrapped as the config's online_merging section asks (τ_ref from its folders,
// the base defaulting to the parameters' current values), or returned as it is when the section is off.
std::unique_ptr<Optimizer> with_online_merging(std::unique_ptr<Optimizer> optimizer, FlatParameters& parameters,
                                               const OnlineMergingConfig& config);

}  // namespace ladle::trainer
