#include "lib/merge/methods/karcher.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "lib/merge/methods/method_support.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {
namespace {

double flat_dot(const at::Tensor& a, const at::Tensor& b) { return (a * b).sum(at::kDouble).item<double>(); }

}  // namespace

std::vector<ParameterSpec> KarcherMerge::parameters() const {
  return {{"max_iter", false, false, 10.0, config::at_least(1)}, {"tol", false, false, 1e-5, config::at_least(0)}};
}

void KarcherMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {inputs.base ? 0u : 1u, 0}, /*base_required=*/false);
}

at::Tensor KarcherMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const std::vector<at::Tensor> tensors = base_and_models(inputs);
  if (tensors.size() == 1) return tensors[0];
  const std::vector<ParameterSpec> specs = parameters();
  const auto max_iter = static_cast<std::int64_t>(method_parameter(name(), specs, inputs, "max_iter"));
  const double tol = method_parameter(name(), specs, inputs, "tol");
  const double share = 1.0 / static_cast<double>(tensors.size());

  double mean_norm = 0.0;
  std::vector<at::Tensor> units;
  for (const at::Tensor& tensor : tensors) {
    const double norm = l2_norm(tensor);
    mean_norm += share * norm;
    if (norm > tol) units.push_back(tensor / norm);
  }
  if (units.empty()) return at::zeros_like(tensors[0]);
  // Equal weights renormalised over the inputs kept (all of them share 1/N, so each kept one gets 1/|kept|).
  const double weight = 1.0 / static_cast<double>(units.size());

  at::Tensor u = weighted_sum(units, std::vector<double>(units.size(), weight)).to(inputs.working_dtype);
  const double start_norm = l2_norm(u);
  u = start_norm < tol ? units[0].clone() : u / start_norm;
  for (std::int64_t iteration = 0; iteration < max_iter; ++iteration) {
    at::Tensor tangent = at::zeros_like(u);
    for (const at::Tensor& unit : units) {
      const double cosine = std::clamp(flat_dot(u, unit), -1.0, 1.0);
      const double theta = std::acos(cosine);
      if (theta < tol) continue;
      tangent.add_(unit - u * cosine, weight * theta / std::sin(theta));
    }
    const double tangent_norm = l2_norm(tangent);
    if (tangent_norm < tol) break;
    u = u * std::cos(tangent_norm) + tangent * (std::sin(tangent_norm) / tangent_norm);
    const double u_norm = l2_norm(u);
    if (u_norm > tol) u = u / u_norm;
  }
  return u * mean_norm;
}

}  // namespace ladle::merge
