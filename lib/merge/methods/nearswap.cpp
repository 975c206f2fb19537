#include "lib/merge/methods/nearswap.h"

#include <ATen/ATen.h>

#include "lib/merge/methods/method_support.h"

namespace ladle::merge {

std::vector<ParameterSpec> NearSwapMerge::parameters() const { return {{"t", false, true, std::nullopt}}; }

at::Tensor NearSwapMerge::merge(const MethodInputs& inputs) const {
  check_inputs(name(), inputs, {0, 1}, /*base_required=*/true);
  const at::Tensor base = working_base(inputs);
  if (inputs.models.empty()) return base;
  const double t = method_parameter(name(), parameters(), inputs, "t");
  const at::Tensor other = inputs.models[0].to(inputs.working_dtype);
  const at::Tensor weight = (t / (base - other).abs().clamp_min(1e-6)).clamp(0, 1);
  return weight * other + (1 - weight) * base;
}

}  // namespace ladle::merge
