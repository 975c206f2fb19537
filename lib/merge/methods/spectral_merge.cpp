#include "lib/merge/methods/spectral_merge.h"

#include <ATen/ATen.h>

#include "lib/merge/methods/method_support.h"

namespace ladle::merge {

std::vector<ParameterSpec> SpectralMerge::parameters() const {
  std::vector<ParameterSpec> specs = {
      {"weight", true, false, 1.0},
      {"alpha", false, false, 1.0},
  };
  for (ParameterSpec& spec : extra_parameters()) specs.push_back(std::move(spec));
  return specs;
}

void SpectralMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {0, 0}, /*base_required=*/true);
}

at::Tensor SpectralMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  if (inputs.models.empty() || inputs.base->numel() == 0) return working_base(inputs);
  const std::vector<ParameterSpec> specs = parameters();
  const std::vector<double> weights = model_parameters(name(), specs, inputs, "weight");
  const double alpha = method_parameter(name(), specs, inputs, "alpha");
  const at::ScalarType math_dtype = inputs.working_dtype == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor base = inputs.base->to(math_dtype);
  std::vector<at::Tensor> weighted;
  for (std::size_t i = 0; i < inputs.models.size(); ++i) {
    weighted.push_back((inputs.models[i].to(math_dtype) - base) * weights[i]);
  }
  at::Tensor update;
  if (base.dim() == 2) {
    update = matrix_update(weighted, inputs);
  } else {
    update = at::stack(weighted).sum(0) / static_cast<double>(weighted.size());
  }
  return (base + update * alpha).to(inputs.working_dtype);
}

}  // namespace ladle::merge
