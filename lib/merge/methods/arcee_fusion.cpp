#include "lib/merge/methods/arcee_fusion.h"

#include <ATen/ATen.h>

#include "lib/merge/methods/method_support.h"

namespace ladle::merge {
namespace {

constexpr double kProbabilityFloor = 1e-8;  // mergekit's eps added to both softmaxes

// sorted[⌊q·(n − 1)⌋], mergekit's approximate_quantiles index rule, over all entries.
double sorted_quantile(const at::Tensor& sorted, double q) {
  const auto index = static_cast<std::int64_t>(q * static_cast<double>(sorted.numel() - 1));
  return sorted[index].item<double>();
}

}  // namespace

void ArceeFusionMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {0, 1}, /*base_required=*/true);
}

at::Tensor ArceeFusionMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const at::Tensor base = working_base(inputs);
  if (inputs.models.empty() || base.numel() == 0) return base;
  const at::Tensor other = inputs.models[0].to(inputs.working_dtype);
  const at::Tensor delta = other - base;

  const at::Tensor other_rows = other.dim() == 0 ? other.reshape({1}) : other;
  const at::Tensor base_rows = base.dim() == 0 ? base.reshape({1}) : base;
  const at::Tensor p = at::softmax(other_rows, -1) + kProbabilityFloor;
  const at::Tensor q = at::softmax(base_rows, -1) + kProbabilityFloor;
  const at::Tensor divergence = (p * (p / q).log()).sum(-1, /*keepdim=*/true);
  const at::Tensor importance = (delta.reshape(other_rows.sizes()).abs() * divergence).reshape(base.sizes());

  const at::Tensor sorted = std::get<0>(at::sort(importance.reshape(-1)));
  const double median = sorted_quantile(sorted, 0.5);
  const double threshold = median + 1.5 * (sorted_quantile(sorted, 0.75) - sorted_quantile(sorted, 0.25));
  return base + delta.masked_fill(importance < threshold, 0);
}

}  // namespace ladle::merge
