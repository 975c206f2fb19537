#include "lib/merge/methods/model_stock.h"

#include <ATen/ATen.h>

#include "lib/merge/methods/method_support.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {
namespace {

// mergekit clamps the product of norms below at this value, so zero task vectors get cosine 0.
constexpr double kNormProductFloor = 1e-6;

}  // namespace

at::Tensor model_stock_ratio(const at::Tensor& mean_cosine, std::int64_t model_count) {
  const auto n = static_cast<double>(model_count);
  const at::Tensor denominator = mean_cosine * (n - 1.0) + 1.0;
  return at::where(denominator > 0, mean_cosine * n / denominator, at::zeros_like(mean_cosine));
}

std::vector<ParameterSpec> ModelStockMerge::parameters() const { return {{"filter_wise", false, false, 0.0}}; }

void ModelStockMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {0, 0}, /*base_required=*/true);
  if (inputs.models.size() == 1) {
    fail(name(), inputs, "needs at least two models besides the base (the paper's N ≥ 2), got 1");
  }
}

at::Tensor ModelStockMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const at::Tensor base = working_base(inputs);
  if (inputs.models.empty()) return base;
  const bool filter_wise = method_flag(name(), parameters(), inputs, "filter_wise");
  // Rows are vectors along the last dimension (filter_wise) or the whole flattened tensor.
  const auto rows = [&](const at::Tensor& tensor) {
    if (!filter_wise) return tensor.reshape({1, -1});
    return tensor.dim() <= 1 ? tensor.reshape({1, -1}) : tensor.reshape({-1, tensor.size(-1)});
  };
  std::vector<at::Tensor> offsets;
  for (const at::Tensor& vector : task_vectors(inputs)) offsets.push_back(rows(vector));

  at::Tensor cosine_sum = at::zeros({offsets[0].size(0)}, base.options());
  std::int64_t pairs = 0;
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    for (std::size_t j = i + 1; j < offsets.size(); ++j) {
      const at::Tensor norms = offsets[i].norm(2, {-1}) * offsets[j].norm(2, {-1});
      cosine_sum.add_(((offsets[i] * offsets[j]).sum(-1) / norms.clamp_min(kNormProductFloor)).clamp(-1, 1));
      ++pairs;
    }
  }
  const auto count = static_cast<std::int64_t>(offsets.size());
  const at::Tensor ratio = model_stock_ratio(cosine_sum / static_cast<double>(pairs), count).unsqueeze(-1);
  const std::vector<at::Tensor> models = working_models(inputs);
  const at::Tensor average =
      rows(weighted_mean(models, std::vector<double>(models.size(), 1.0)).to(inputs.working_dtype));
  return (ratio * average + (1 - ratio) * rows(base)).reshape(base.sizes());
}

}  // namespace ladle::merge
