#include "lib/merge/methods/multislerp.h"

#include <ATen/ATen.h>

#include <cmath>
#include <numeric>

#include "lib/merge/methods/method_support.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {

std::vector<ParameterSpec> MultiSlerpMerge::parameters() const {
  return {
      {"weight", true, true, std::nullopt},
      {"normalize_weights", false, false, 1.0},
      {"eps", false, false, 1e-8, config::at_least(0)},
  };
}

void MultiSlerpMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {inputs.base ? 0u : 1u, 0}, /*base_required=*/false);
  if (inputs.models.size() < 2 || !method_flag(name(), parameters(), inputs, "normalize_weights")) return;
  const std::vector<double> weights = model_parameters(name(), parameters(), inputs, "weight");
  if (std::accumulate(weights.begin(), weights.end(), 0.0) == 0.0) {
    fail(name(), inputs, "the weights sum to 0, so normalize_weights cannot divide by them");
  }
}

at::Tensor MultiSlerpMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  if (inputs.models.empty()) return working_base(inputs);
  if (inputs.models.size() == 1) return inputs.models[0].to(inputs.working_dtype);
  const std::vector<ParameterSpec> specs = parameters();
  std::vector<double> weights = model_parameters(name(), specs, inputs, "weight");
  const double eps = method_parameter(name(), specs, inputs, "eps");
  if (method_flag(name(), specs, inputs, "normalize_weights")) {
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    for (double& weight : weights) weight /= total;
  }

  const std::vector<at::Tensor> vectors = inputs.base ? task_vectors(inputs) : working_models(inputs);
  const at::Tensor flat = at::stack(vectors).reshape({static_cast<std::int64_t>(vectors.size()), -1});
  const at::Tensor weight_column = at::tensor(weights, flat.options().dtype(at::kDouble)).to(flat.scalar_type())
                                       .unsqueeze(1);
  const at::Tensor norms = flat.norm(2, {1}, /*keepdim=*/true);
  const at::Tensor units = flat / (norms + eps);

  at::Tensor mean = (units * weight_column).sum(0);
  const double mean_norm = mean.norm().item<double>();
  if (mean_norm < eps) {
    if (vectors.size() == 2) {
      const at::Tensor linear = weighted_sum(vectors, weights).to(inputs.working_dtype);
      return inputs.base ? working_base(inputs) + linear : linear;
    }
    if (inputs.base && norms.max().item<double>() == 0.0) return working_base(inputs);
    fail(name(), inputs, "the weighted mean direction is zero (antipodal inputs whose weights cancel); use "
                         "different weights");
  }
  mean = mean / mean_norm;
  const at::Tensor tangents = units - (units * mean).sum(1, /*keepdim=*/true) * mean;
  const at::Tensor tangent = (tangents * weight_column).sum(0);
  const double tangent_norm = tangent.norm().item<double>() + eps;
  const at::Tensor direction = mean * std::cos(tangent_norm) + tangent * (std::sin(tangent_norm) / tangent_norm);
  const double mean_length = (norms.squeeze(1).to(at::kDouble) * at::tensor(weights, at::kDouble)).sum()
                                 .item<double>();
  const at::Tensor result = (direction * mean_length).reshape(inputs.models[0].sizes()).to(inputs.working_dtype);
  return inputs.base ? working_base(inputs) + result : result;
}

}  // namespace ladle::merge
