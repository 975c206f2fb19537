#include "lib/merge/methods/linear.h"

#include <ATen/ATen.h>

#include <numeric>

#include "lib/merge/methods/method_support.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {

std::vector<ParameterSpec> LinearMerge::parameters() const {
  return {
      {"weight", /*per_model=*/true, /*required=*/true, std::nullopt},
      {"normalize", /*per_model=*/false, /*required=*/false, 1.0},
  };
}

at::Tensor LinearMerge::merge(const MethodInputs& inputs) const {
  check_inputs(name(), inputs, {1, 0}, /*base_required=*/false);
  if (inputs.base) {
    fail(name(), inputs, "linear does not use a base model; list it under models with a weight instead");
  }
  const std::vector<ParameterSpec> specs = parameters();
  const std::vector<double> weights = model_parameters(name(), specs, inputs, "weight");
  const std::vector<at::Tensor> models = working_models(inputs);
  if (!method_flag(name(), specs, inputs, "normalize")) return weighted_sum(models, weights).to(inputs.working_dtype);
  // mergekit divides by Σ wᵢ unguarded (a zero sum gives inf/NaN); we refuse instead.
  if (std::accumulate(weights.begin(), weights.end(), 0.0) == 0.0) {
    fail(name(), inputs, "the weights sum to 0, so normalize cannot divide by them (set normalize: false)");
  }
  return weighted_mean(models, weights).to(inputs.working_dtype);
}

}  // namespace ladle::merge
