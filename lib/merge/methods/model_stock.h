// model_stock: Jang et al., "Model Stock: All we need is just a few fine-tuned models" (ECCV 2024), as mergekit's
// ModelStockMerge (mergekit/merge_methods/model_stock.py).
#pragma once

#include <ATen/core/Tensor.h>

#include "lib/merge/merge_method.h"

namespace ladle::merge {

// The paper's interpolation ratio t = N·c / (1 + (N−1)·c) (eq. 6, with cos θ estimated by c) for N fine-tuned
// models whose task vectors have mean pairwise cosine c. Where the denominator is ≤ 0 (c at its lower bound
// −1/(N−1), the task vectors cancel) t is 0: the average is the base there and mergekit's formula would divide
// by zero.
at::Tensor model_stock_ratio(const at::Tensor& mean_cosine, std::int64_t model_count);

class ModelStockMerge : public MergeMethod {
 public:
  std::string name() const override { return "model_stock"; }
  // filter_wise (0): 1 computes c and t for each row (each vector along the last dimension; a 1-D tensor is one
  // row) instead of once over the flattened tensor.
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return true; }
  void validate(const MethodInputs& inputs) const override;
  // θ = t·mean(θᵢ) + (1 − t)·θ₀, c the mean over pairs of cos(τᵢ, τⱼ) with mergekit's ⟨τᵢ,τⱼ⟩/max(‖τᵢ‖‖τⱼ‖, 1e-6)
  // clamped to [−1, 1]. Needs at least two models besides the base; the base alone passes through.
  at::Tensor merge(const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
