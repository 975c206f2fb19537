#include "lib/merge/methods/passthrough.h"

#include <ATen/ATen.h>

#include "lib/merge/methods/method_support.h"

namespace ladle::merge {

double PassthroughMerge::base_scale(const MethodInputs& inputs) const {
  const auto own = inputs.base_parameters.find("scale");
  return own != inputs.base_parameters.end() ? own->second : method_parameter(name(), parameters(), inputs, "scale");
}

std::vector<ParameterSpec> PassthroughMerge::parameters() const {
  return {{"scale", /*per_model=*/true, /*required=*/false, 1.0}};
}

void PassthroughMerge::validate(const MethodInputs& inputs) const {
  const std::size_t count = inputs.models.size() + (inputs.base ? 1 : 0);
  if (count != 1) {
    fail(name(), inputs, "expects exactly one input tensor, got " + std::to_string(count) +
                             (inputs.base ? " (the base model counts as one)" : ""));
  }
}

at::Tensor PassthroughMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const at::Tensor input = base_and_models(inputs).front();
  const double scale =
      inputs.base ? base_scale(inputs) : model_parameters(name(), parameters(), inputs, "scale").front();
  return scale == 1.0 ? input : input * scale;
}

}  // namespace ladle::merge
