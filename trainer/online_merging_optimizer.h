// Online merging around any optimizer of the trainer (Lu et al. 2024, "Online Merging Optimizers for Boosting
// Rewards and Mitigating Tax in Alignment"): at every step the wrapped optimizer proposes its update
// Δ = θ_after − θ_before, the update is merged tensor by tensor with the reference task vector τ_ref by the merge
// engine's sparse merge (lib/merge/online_merge.h: OnDARE or OnTIES), and the merged update M is what is applied:
//   θ_t = θ_{t−1} + M_t,   M_t = merge(Δ_t, τ_ref; density, update weight, reference weight, seed of step t)
// It is applied as θ_after + (M − Δ), so that when the merge returns Δ unchanged (density 1, reference weight 0,
// update weight 1) the weights are the plain optimizer's bit for bit. The wrapped optimizer's state (AdamW's
// moments, SGD's momentum) evolves from its own proposals, as in the paper, where the merge only changes what is
// applied.
//
// State: the step count (which, with the seed, fixes every random mask) lives in the wrapped optimizer's state; the
// checkpoint's optimizer JSON also records the merge options and ‖τ_ref‖₂, and a resume with different ones is
// refused. τ_ref itself is not checkpointed: it is rebuilt from the reference and base folders.
//
// Memory: two fp32 copies of the trainable parameters (τ_ref and the update).
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
  // out of range.
  OnlineMergingOptimizer(std::unique_ptr<Optimizer> inner, FlatParameters& parameters, at::Tensor reference_task_vector,
                         merge::OnlineMergeOptions options, std::uint64_t seed);

  void step() override;

  NamedTensors state_tensors() const override { return inner_->state_tensors(); }
  // The inner optimizer's JSON plus "online_merging": the options, the seed and ‖τ_ref‖₂.
  nlohmann::json state_json() const override;
  // Throws ladle::Error when the checkpoint was written without online merging or with other options or τ_ref.
  void load_state(const NamedTensors& tensors, const nlohmann::json& json) override;

  const Optimizer& inner() const { return *inner_; }
  const merge::OnlineMergeOptions& options() const { return options_; }

 private:
  // The buffers are the inner optimizer's (state_tensors forwards to it).
  std::vector<std::pair<std::string, at::Tensor>> buffers() const override { return {}; }
  // The seed of the masks of parameter `slot` at step `step` (1-based).
  std::uint64_t step_seed(std::int64_t step, std::size_t slot) const;
  nlohmann::json merge_json() const;

  std::unique_ptr<Optimizer> inner_;
  at::Tensor reference_;  // τ_ref, flat, the parameter buffer's layout
  at::Tensor update_;     // scratch: θ before the inner step, then Δ
  merge::OnlineMergeOptions options_;
  std::uint64_t seed_;
  double reference_norm_;
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
