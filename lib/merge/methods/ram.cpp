#include "lib/merge/methods/ram.h"

#include <ATen/ATen.h>

#include "lib/merge/methods/method_support.h"

namespace ladle::merge {

std::vector<ParameterSpec> RamMerge::parameters() const {
  std::vector<ParameterSpec> specs = {{"epsilon", false, false, 1e-5, config::at_least(0)}};  // a magnitude
  if (plus_) {
    specs.push_back({"r", false, false, 0.1, config::at_least(0)});
    specs.push_back({"alpha", false, false, 0.2, config::at_least(0)});  // the upper end of clamp(ρ, 0, α)
  }
  return specs;
}

void RamMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {0, 0}, /*base_required=*/true);
}

at::Tensor RamMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const at::Tensor base = working_base(inputs);
  if (inputs.models.empty()) return base;
  const std::vector<ParameterSpec> specs = parameters();
  const double epsilon = method_parameter(name(), specs, inputs, "epsilon");

  const at::Tensor vectors = at::stack(task_vectors(inputs));            // [models, ...]
  const at::Tensor contributes = vectors.abs() > epsilon;                 // [models, ...]
  const at::Tensor counts = contributes.sum(0, /*keepdim=*/true);         // [1, ...]
  const at::Tensor unique = counts == 1;
  const at::Tensor shared = counts > 1;
  const at::Tensor changes = vectors.masked_fill(contributes.logical_not(), 0);

  at::Tensor unique_scale = at::ones({vectors.size(0)}, base.options());
  if (plus_) {
    const double r = method_parameter(name(), specs, inputs, "r");
    const double alpha = method_parameter(name(), specs, inputs, "alpha");
    const at::Tensor per_model = contributes.reshape({vectors.size(0), -1});
    const at::Tensor shared_count = (per_model & shared.reshape({1, -1})).sum(1).to(base.scalar_type());
    const at::Tensor unique_count = (per_model & unique.reshape({1, -1})).sum(1).to(base.scalar_type());
    unique_scale = 1 + r * (shared_count / unique_count.clamp_min(epsilon)).clamp(0, alpha);
  }
  std::vector<std::int64_t> scale_shape(static_cast<std::size_t>(vectors.dim()), 1);
  scale_shape[0] = vectors.size(0);
  const at::Tensor unique_part = changes.masked_fill(unique.logical_not(), 0) * unique_scale.view(scale_shape);
  const at::Tensor shared_part =
      changes.masked_fill(shared.logical_not(), 0) / counts.clamp_min(1).to(base.scalar_type());
  return base + (unique_part + shared_part).sum(0);
}

}  // namespace ladle::merge
