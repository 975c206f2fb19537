#include "lib/merge/methods/sce.h"

#include <ATen/ATen.h>

#include "lib/merge/methods/generalized_task_arithmetic.h"
#include "lib/merge/methods/method_support.h"
#include "lib/merge/methods/sparsification.h"

namespace ladle::merge {
namespace {

// mergekit's floors: below this total the model weights are uniform, and the divisor never drops below it.
constexpr double kSmall = 1e-6;

}  // namespace

at::Tensor sce_selection_mask(const at::Tensor& vectors, double select_topk) {
  const at::Tensor variance = vectors.var(0, /*unbiased=*/false);
  if (select_topk >= 1.0) return at::ones_like(variance, variance.options().dtype(at::kBool));
  const auto k = static_cast<std::int64_t>(static_cast<double>(variance.count_nonzero().item<std::int64_t>()) *
                                           select_topk);
  // mergekit takes torch.topk of the variances (ties in unspecified order); ours go to the lower index.
  return extreme_magnitude_mask(variance, select_topk > 0.0 ? k : 0, /*largest=*/true, /*lower_index_first=*/true);
}

std::vector<ParameterSpec> SceMerge::parameters() const {
  return {{"select_topk", false, false, 1.0, config::in_open_closed(0, 1)}, {"int8_mask", false, false, 0.0}};
}

void SceMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {0, 0}, /*base_required=*/true);
}

at::Tensor SceMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const at::Tensor base = working_base(inputs);
  if (inputs.models.empty()) return base;
  const double select_topk = method_parameter(name(), parameters(), inputs, "select_topk");

  at::Tensor vectors = at::stack(task_vectors(inputs));  // [models, ...]
  if (select_topk < 1.0) vectors = vectors.masked_fill(sce_selection_mask(vectors, select_topk).logical_not(), 0);
  const std::int64_t count = vectors.size(0);

  at::Tensor weights = vectors.square().reshape({count, -1}).mean(1);
  const double total = weights.sum().item<double>();
  weights = std::abs(total) < kSmall ? at::full({count}, 1.0 / static_cast<double>(count), base.options())
                                     : weights / total;

  const std::vector<at::Tensor> agree = sign_consensus_masks(vectors.unbind(0));
  at::Tensor merged = at::zeros_like(base);
  at::Tensor divisor = at::zeros_like(base);
  for (std::int64_t i = 0; i < count; ++i) {
    const at::Tensor kept_weight = agree[static_cast<std::size_t>(i)].to(base.scalar_type()) * weights[i];
    merged.add_(vectors[i] * kept_weight);
    divisor.add_(kept_weight);
  }
  return base + merged / divisor.clamp_min(kSmall);
}

}  // namespace ladle::merge
