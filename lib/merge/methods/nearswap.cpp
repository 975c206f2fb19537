#include "lib/merge/methods/nearswap.h"

#include <ATen/ATen.h>

#include "lib/merge/methods/method_support.h"

namespace ladle::merge {

// t is a distance (the per-entry weight of the other model is t / |θ₀ − θ₁|, clamped to [0, 1]): a negative one
// would keep the base everywhere.
std::vector<ParameterSpec> NearSwapMerge::parameters() const {
  return {{"t", false, true, std::nullopt, config::at_least(0)}};
}

void NearSwapMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {0, 1}, /*base_required=*/true);
}

at::Tensor NearSwapMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const at::Tensor base = working_base(inputs);
  if (inputs.models.empty()) return base;
  const double t = method_parameter(name(), parameters(), inputs, "t");
  const at::Tensor other = inputs.models[0].to(inputs.working_dtype);
  const at::Tensor weight = (t / (base - other).abs().clamp_min(1e-6)).clamp(0, 1);
  return weight * other + (1 - weight) * base;
}

}  // namespace ladle::merge
