#include "lib/merge/methods/linear.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <numeric>
#include <optional>

#include "lib/merge/methods/fused_operand.h"
#include "lib/merge/methods/magnitude_threshold.h"
#include "lib/merge/methods/method_support.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {
namespace {

// Σ wᵢ·xᵢ (divided by `divisor` when given) over blocks [first, last) of kMagnitudeBlock entries, rounded as the
// tensor code weighted_sum / weighted_mean (lib/weights/tensor_ops.h) rounds it: in the accumulation dtype (fp64 for
// fp64, else fp32), the first input times its weight, each further one added as ATen's add with an alpha adds it
// (one fused multiply-add), the quotient by Σ wᵢ, and one rounding to the working dtype T at the end.
template <typename T>
LADLE_MERGE_KERNEL void linear_blocks(const std::vector<Operand>& inputs, const std::vector<double>& weights,
                                      std::optional<double> divisor, T* out, std::int64_t n, std::int64_t first,
                                      std::int64_t last) {
  using Arithmetic = WorkingArithmetic<T>;
  using Wide = typename Arithmetic::Wide;
  std::vector<T> scratch(kMagnitudeBlock);
  std::vector<Wide> sum(kMagnitudeBlock);
  for (std::int64_t block = first; block < last; ++block) {
    const std::int64_t begin = block * kMagnitudeBlock;
    const std::int64_t count = std::min(n, begin + kMagnitudeBlock) - begin;
    const T* entries = working_entries(inputs[0], begin, count, scratch.data());
    const auto first_weight = static_cast<Wide>(weights[0]);
    for (std::int64_t j = 0; j < count; ++j) sum[j] = Arithmetic::widen(entries[j]) * first_weight;
    for (std::size_t i = 1; i < inputs.size(); ++i) {
      entries = working_entries(inputs[i], begin, count, scratch.data());
      const auto weight = static_cast<Wide>(weights[i]);
      for (std::int64_t j = 0; j < count; ++j) {
        sum[j] = Arithmetic::fused_multiply_add(Arithmetic::widen(entries[j]), weight, sum[j]);
      }
    }
    if (divisor) {
      const auto total = static_cast<Wide>(*divisor);
      for (std::int64_t j = 0; j < count; ++j) sum[j] = sum[j] / total;
    }
    for (std::int64_t j = 0; j < count; ++j) out[begin + j] = Arithmetic::narrow(sum[j]);
  }
}

bool all_on_cpu(const std::vector<at::Tensor>& tensors) {
  return std::all_of(tensors.begin(), tensors.end(), [](const at::Tensor& t) { return t.device().is_cpu(); });
}

}  // namespace

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
  const std::vector<double> all_weights = weights(inputs);
  std::optional<double> divisor;
  if (method_flag(name(), parameters(), inputs, "normalize")) {
    divisor = std::accumulate(all_weights.begin(), all_weights.end(), 0.0);
  }
  std::vector<at::Tensor> stored;
  if (inputs.base) stored.push_back(*inputs.base);
  stored.insert(stored.end(), inputs.models.begin(), inputs.models.end());
  if (!all_on_cpu(stored)) {
    const std::vector<at::Tensor> tensors = base_and_models(inputs);
    const at::Tensor sum = divisor ? weighted_mean(tensors, all_weights) : weighted_sum(tensors, all_weights);
    return sum.to(inputs.working_dtype);
  }
  // On the CPU one fused pass reads each input once, block by block, widening it as it goes: no working copies.
  const at::ScalarType dtype = inputs.working_dtype;
  std::vector<at::Tensor> operands;
  std::vector<Operand> views;
  for (const at::Tensor& input : stored) {
    operands.push_back(fused_operand(input, dtype));
    views.push_back(operand_of(operands.back()));
  }
  at::Tensor merged = at::empty(stored.front().sizes(), at::TensorOptions().dtype(dtype));
  const std::int64_t n = merged.numel();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dtype, "linear merge", [&] {
    at::parallel_for(0, (n + kMagnitudeBlock - 1) / kMagnitudeBlock, 1, [&](std::int64_t first, std::int64_t last) {
      linear_blocks(views, all_weights, divisor, merged.data_ptr<scalar_t>(), n, first, last);
    });
  });
  return merged;
}

}  // namespace ladle::merge
