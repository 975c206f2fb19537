#include "lib/merge/methods/fisher.h"

#include <ATen/ATen.h>

#include <numeric>

#include "lib/merge/methods/method_support.h"

namespace ladle::merge {

std::vector<ParameterSpec> FisherMerge::parameters() const {
  return {
      {"weight", true, false, 1.0, config::at_least(0)},
      {"fisher_floor", false, false, 1e-6, config::at_least(0)},
      {"normalize_fishers", false, false, 1.0},
  };
}

void FisherMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {1, 0}, /*base_required=*/false);
  if (inputs.base) fail(name(), inputs, "Fisher merging uses no base model; list it under models with its Fisher");
  const std::vector<double> weights = model_parameters(name(), parameters(), inputs, "weight");
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!(weights[i] >= 0.0)) fail(name(), inputs, "the weight of " + model_label(inputs, i) + " is negative");
  }
  if (std::accumulate(weights.begin(), weights.end(), 0.0) == 0.0) fail(name(), inputs, "the weights are all 0");
}

at::Tensor FisherMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const std::size_t count = inputs.models.size();
  if (inputs.model_fishers.size() != count) {
    fail(name(), inputs, "needs one Fisher tensor per model, got " + std::to_string(inputs.model_fishers.size()) +
                             " for " + std::to_string(count) + " models");
  }
  const std::vector<ParameterSpec> specs = parameters();
  const std::vector<double> weights = model_parameters(name(), specs, inputs, "weight");
  const double floor = method_parameter(name(), specs, inputs, "fisher_floor");
  const bool normalize = method_flag(name(), specs, inputs, "normalize_fishers");
  if (normalize && (!inputs.model_fisher_norms || inputs.model_fisher_norms->size() != count)) {
    fail(name(), inputs, "normalize_fishers needs each model's whole-model Fisher norm from the executor");
  }

  const std::vector<at::Tensor> models = working_models(inputs);
  at::Tensor numerator = at::zeros_like(models[0]);
  at::Tensor denominator = at::zeros_like(models[0]);
  for (std::size_t i = 0; i < count; ++i) {
    const at::Tensor& fisher = inputs.model_fishers[i];
    if (!fisher.defined() || !fisher.sizes().equals(models[i].sizes())) {
      fail(name(), inputs, "the Fisher of " + model_label(inputs, i) + " is missing or does not have the tensor's "
                                                                      "shape");
    }
    at::Tensor precision = fisher.to(inputs.working_dtype);
    if (normalize) {
      const double norm = (*inputs.model_fisher_norms)[i];
      if (!(norm > 0.0)) fail(name(), inputs, "the Fisher norm of " + model_label(inputs, i) + " is not positive");
      precision = precision / norm;
    }
    const at::Tensor coefficient = precision.clamp_min(floor) * weights[i];
    numerator.add_(coefficient * models[i]);
    denominator.add_(coefficient);
  }
  return numerator / denominator;
}

}  // namespace ladle::merge
