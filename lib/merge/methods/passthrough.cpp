#include "lib/merge/methods/passthrough.h"

#include <ATen/ATen.h>

#include "lib/merge/methods/method_support.h"

namespace ladle::merge {

std::vector<ParameterSpec> PassthroughMerge::parameters() const { return {{"scale", false, false, 1.0}}; }

at::Tensor PassthroughMerge::merge(const MethodInputs& inputs) const {
  check_inputs(name(), inputs, {0, 0}, /*base_required=*/false);
  const std::size_t count = inputs.models.size() + (inputs.base ? 1 : 0);
  if (count != 1) {
    fail(name(), inputs, "expects exactly one input tensor, got " + std::to_string(count) +
                             (inputs.base ? " (the base model counts as one)" : ""));
  }
  const at::Tensor input = base_and_models(inputs).front();
  const double scale = method_parameter(name(), parameters(), inputs, "scale");
  return scale == 1.0 ? input : input * scale;
}

}  // namespace ladle::merge
