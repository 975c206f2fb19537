// The generalized task arithmetic family, one implementation parameterised by sparsification and sign consensus
// as mergekit's GeneralizedTaskArithmeticMerge (mergekit/merge_methods/generalized_task_arithmetic.py, registered
// in registry.py):
//
//   τᵢ = θᵢ − θ₀;  τ̂ᵢ = sparsify(τᵢ);  δᵢ = wᵢ·τ̂ᵢ
//   without consensus:  Δ = Σ δᵢ,                  divisor = Σ wᵢ            (|Σ wᵢ| < 1e-8 → 1)
//   with consensus:     Δ = Σ δᵢ·[sign δᵢ = s],    divisor = Σ wᵢ·[sign δᵢ = s] (0 → 1), s = sign(Σ δᵢ), 0 → +
//   θ = θ₀ + λ·(normalize ? Δ / divisor : Δ)
//
// Execution: one pass per selection step over the inputs (sparsification.h resolves each τᵢ's cut, draws or rescale
// factor) and one fused pass that, block by block of kMagnitudeBlock entries, forms τᵢ, τ̂ᵢ and δᵢ of every model
// and the merged entries. No task vector, mask or index tensor is materialised (random masks take one byte per
// entry), and every operation is rounded as the tensor expressions above are in ATen (working_arithmetic.h), so
// the result is the same bit for bit as evaluating them tensor by tensor, for any thread count.
//
// | name              | sparsification           | consensus | normalize | rescale | paper                       |
// | task_arithmetic   | none                     | no        | false     | false   | Ilharco et al. 2023         |
// | ties              | magnitude (top density)  | sign sum  | true      | false   | Yadav et al. 2023           |
// | dare_linear       | random (Bernoulli)       | no        | false     | true    | Yu et al. 2024              |
// | dare_ties         | random (Bernoulli)       | sign sum  | false     | true    | Yu et al. 2024              |
// | breadcrumbs       | magnitude outliers       | no        | false     | false   | Davari & Belilovsky 2023    |
// | breadcrumbs_ties  | magnitude outliers       | sign sum  | false     | false   | Davari & Belilovsky 2023    |
// | della             | DELLA magprune           | sign sum  | true      | true    | Deep et al. 2024            |
// | della_linear      | DELLA magprune           | no        | false     | true    | Deep et al. 2024            |
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/merge/merge_method.h"
#include "lib/merge/methods/sparsification.h"

namespace ladle::merge {

// One member of the family, as one GeneralizedTaskArithmeticMerge(...) entry of mergekit's registry.py.
struct TaskArithmeticVariant {
  std::string name;                            // the mergekit name, e.g. "dare_ties"
  std::optional<Sparsification> sparsification;  // none: task vectors are used whole
  bool sign_consensus = false;                 // TIES sign election ("sum" consensus)
  bool default_normalize = false;              // default of `normalize`
  bool default_rescale = false;                // default of `rescale`
};

// The eight variants of the table above.
std::vector<TaskArithmeticVariant> task_arithmetic_variants();

// TIES sign election over weighted task vectors δᵢ (Yadav et al. 2023, Sec. 3, "Elect"; mergekit's get_mask with
// method "sum"): s = sign(Σ δᵢ) with a zero sum counted as +, and mask i marks the entries where sign δᵢ = s (a zero
// entry never agrees). Returns one boolean mask per input.
std::vector<at::Tensor> sign_consensus_masks(const std::vector<at::Tensor>& weighted);

class GeneralizedTaskArithmeticMerge : public MergeMethod {
 public:
  explicit GeneralizedTaskArithmeticMerge(TaskArithmeticVariant variant) : variant_(std::move(variant)) {}

  std::string name() const override { return variant_.name; }
  // Method-wide: normalize, rescale (defaults per variant), lambda (1), int8_mask (0; accepted for mergekit configs,
  // no effect: masks are boolean here); random and DELLA variants add rescale_by_probability (0); magnitude (ties)
  // adds global_trim (0). Per model: weight (required), density (1); breadcrumbs* add gamma (0.01), della* add
  // epsilon (0.15), as mergekit's tensor_parameters.
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return true; }
  void validate(const MethodInputs& inputs) const override;
  // The base alone (no other inputs) is returned unchanged, as mergekit's `if not tvs: return base`.
  at::Tensor merge(const MethodInputs& inputs) const override;
  // True for ties with global_trim: MethodInputs::global_magnitude_thresholds then replaces per-tensor trimming.
  bool needs_global_magnitude_thresholds(const std::map<std::string, double>& parameters) const override;
  // True without sparsification (task_arithmetic) and for global_trim without rescale: nothing then depends on the
  // tensor as a whole.
  bool elementwise(const std::map<std::string, double>& parameters) const override;
  // True: the fused passes widen bf16/fp16 (and fp32 for an fp64 working dtype) inputs block by block.
  bool converts_inputs() const override { return true; }

 private:
  Rescale rescale_mode(const MethodInputs& inputs, const std::vector<ParameterSpec>& specs) const;
  // Each model's sparsification of τᵢ = models[i] − base, resolved; base and models are contiguous CPU tensors in
  // the working dtype or in a narrower dtype that widens to it exactly.
  std::vector<ResolvedSparsification> resolve_sparsifications(const MethodInputs& inputs,
                                                              const std::vector<ParameterSpec>& specs,
                                                              const at::Tensor& base,
                                                              const std::vector<at::Tensor>& models) const;

  TaskArithmeticVariant variant_;
};

}  // namespace ladle::merge
