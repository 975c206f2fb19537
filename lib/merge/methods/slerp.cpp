#include "lib/merge/methods/slerp.h"

#include <ATen/ATen.h>

#include <cmath>

#include "lib/merge/methods/method_support.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {
namespace {

// mergekit's slerp: vectors are normalised only above this norm, and |cos| above the threshold counts as colinear.
constexpr double kSlerpNormEpsilon = 1e-8;
constexpr double kSlerpColinearCosine = 0.9995;
// mergekit's nuslerp: norms are clamped below at 1e-7, and |sin θ| below 1e-8 counts as colinear.
constexpr double kNuslerpNormFloor = 1e-7;
constexpr double kNuslerpColinearSine = 1e-8;
// mergekit's nuslerp: t falls back to 0.5 when the two weights nearly cancel.
constexpr double kNuslerpSmallWeightSum = 1e-6;

double normaliser(double norm) { return norm > kSlerpNormEpsilon ? norm : 1.0; }

}  // namespace

at::Tensor slerp(double t, const at::Tensor& v0, const at::Tensor& v1) {
  const double dot = (v0 * v1).sum(at::kDouble).item<double>() / normaliser(l2_norm(v0)) / normaliser(l2_norm(v1));
  if (std::abs(dot) > kSlerpColinearCosine) return weighted_sum({v0, v1}, {1.0 - t, t}).to(v0.scalar_type());
  const double theta = std::acos(dot);
  const double sin_theta = std::sin(theta);
  const double s0 = std::sin(theta - theta * t) / sin_theta;
  const double s1 = std::sin(theta * t) / sin_theta;
  return weighted_sum({v0, v1}, {s0, s1}).to(v0.scalar_type());
}

at::Tensor nuslerp(double t, const at::Tensor& v0, const at::Tensor& v1, bool row_wise, bool flatten) {
  at::Tensor a = v0;
  at::Tensor b = v1;
  const bool transposed = row_wise && !flatten && v0.dim() >= 1;
  if (flatten || v0.dim() == 0) {
    a = a.reshape(-1);
    b = b.reshape(-1);
  } else if (transposed) {
    a = a.transpose(0, -1);
    b = b.transpose(0, -1);
  }
  const at::Tensor a_unit = a / a.norm(2, {-1}, /*keepdim=*/true).clamp_min(kNuslerpNormFloor);
  const at::Tensor b_unit = b / b.norm(2, {-1}, /*keepdim=*/true).clamp_min(kNuslerpNormFloor);
  const at::Tensor theta = (a_unit * b_unit).sum(-1, /*keepdim=*/true).clamp(-1, 1).acos();
  const at::Tensor sin_theta = theta.sin();
  const at::Tensor spherical = ((theta * (1.0 - t)).sin() * a + (theta * t).sin() * b) / sin_theta;
  const at::Tensor linear = a * (1.0 - t) + b * t;
  at::Tensor result = at::where(sin_theta.abs() < kNuslerpColinearSine, linear, spherical);
  if (transposed) result = result.transpose(0, -1);
  return result.reshape(v0.sizes());
}

std::vector<ParameterSpec> SlerpMerge::parameters() const {
  return {{"t", false, true, std::nullopt, {}, /*interpolation_factor=*/true}};
}

void SlerpMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {0, 1}, /*base_required=*/true);
}

at::Tensor SlerpMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const at::Tensor base = working_base(inputs);
  if (inputs.models.empty()) return base;
  const double t = method_parameter(name(), parameters(), inputs, "t");
  return slerp(t, base, inputs.models[0].to(inputs.working_dtype));
}

std::vector<ParameterSpec> NuSlerpMerge::parameters() const {
  return {
      {"weight", true, true, std::nullopt},
      {"nuslerp_flatten", false, false, 1.0},
      {"nuslerp_row_wise", false, false, 0.0},
  };
}

void NuSlerpMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {inputs.base ? 0u : 1u, 2}, /*base_required=*/false);
  const bool passes_through = inputs.base ? inputs.models.empty() : inputs.models.size() == 1;
  if (!passes_through && inputs.models.size() != 2) {
    fail(name(), inputs, "expected exactly two models besides the base, got " + std::to_string(inputs.models.size()));
  }
}

at::Tensor NuSlerpMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  if (inputs.base && inputs.models.empty()) return working_base(inputs);
  if (!inputs.base && inputs.models.size() == 1) return inputs.models[0].to(inputs.working_dtype);
  const std::vector<ParameterSpec> specs = parameters();
  const std::vector<double> weights = model_parameters(name(), specs, inputs, "weight");
  const double total = weights[0] + weights[1];
  const double t = std::abs(total) < kNuslerpSmallWeightSum ? 0.5 : weights[1] / total;
  const bool row_wise = method_flag(name(), specs, inputs, "nuslerp_row_wise");
  const bool flatten = method_flag(name(), specs, inputs, "nuslerp_flatten");
  if (!inputs.base) {
    const std::vector<at::Tensor> models = working_models(inputs);
    return nuslerp(t, models[0], models[1], row_wise, flatten);
  }
  const std::vector<at::Tensor> vectors = task_vectors(inputs);
  return working_base(inputs) + nuslerp(t, vectors[0], vectors[1], row_wise, flatten);
}

}  // namespace ladle::merge
