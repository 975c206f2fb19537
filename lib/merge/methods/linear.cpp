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

std::vector<double> LinearMerge::weights(const MethodInputs& inputs) const {
  std::vector<double> weights;
  if (inputs.base) {
    const auto base_weight = inputs.base_parameters.find("weight");
    if (base_weight == inputs.base_parameters.end()) {
      fail(name(), inputs, "the base model is one of linear's inputs and needs a weight (give it one under models "
                           "or in the top-level parameters)");
    }
    weights.push_back(base_weight->second);
  }
  for (double weight : model_parameters(name(), parameters(), inputs, "weight")) weights.push_back(weight);
  return weights;
}

void LinearMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {inputs.base ? 0u : 1u, 0}, /*base_required=*/false);
  const std::vector<double> all = weights(inputs);
  // mergekit divides by Σ wᵢ unguarded (a zero sum gives inf/NaN); we refuse instead.
  if (method_flag(name(), parameters(), inputs, "normalize") && std::accumulate(all.begin(), all.end(), 0.0) == 0.0) {
    fail(name(), inputs, "the weights sum to 0, so normalize cannot divide by them (set normalize: false)");
  }
}

at::Tensor LinearMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const std::vector<at::Tensor> tensors = base_and_models(inputs);
  if (!method_flag(name(), parameters(), inputs, "normalize")) {
    return weighted_sum(tensors, weights(inputs)).to(inputs.working_dtype);
  }
  return weighted_mean(tensors, weights(inputs)).to(inputs.working_dtype);
}

}  // namespace ladle::merge
