// sce: Select, Calculate, Erase (Wan et al., "FuseChat: Knowledge Fusion of Chat Models", 2024, Sec. 3.3), as
// mergekit's sce (mergekit/merge_methods/sce.py).
#pragma once

#include <ATen/core/Tensor.h>

#include "lib/merge/merge_method.h"

namespace ladle::merge {

// Select: the entries kept for every model, the ⌊select_topk · (entries with non-zero variance)⌋ entries whose
// variance across the task vectors (population variance, mergekit's unbiased=False) is largest; all for
// select_topk ≥ 1, none for ≤ 0. `vectors` is [models, ...]; the mask has the shape of one task vector.
at::Tensor sce_selection_mask(const at::Tensor& vectors, double select_topk);

class SceMerge : public MergeMethod {
 public:
  std::string name() const override { return "sce"; }
  // select_topk (1); int8_mask (0; accepted for mergekit configs, no effect: masks are boolean here).
  std::vector<ParameterSpec> parameters() const override;
  bool requires_base() const override { return true; }
  void validate(const MethodInputs& inputs) const override;
  // Select (sce_selection_mask) → Calculate: model weights ηᵢ = mean(τᵢ²) / Σⱼ mean(τⱼ²) over the selected task
  // vectors (uniform 1/N when that sum is below 1e-6) → Erase: TIES sign election on the unweighted selected task
  // vectors; θ = θ₀ + Σ ηᵢ·mᵢ·τᵢ / max(Σ ηᵢ·mᵢ, 1e-6). No per-model weights (mergekit has none). The base alone passes
  // through.
  at::Tensor merge(const MethodInputs& inputs) const override;
};

}  // namespace ladle::merge
