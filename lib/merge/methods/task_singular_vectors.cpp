#include "lib/merge/methods/task_singular_vectors.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "lib/merge/truncated_svd.h"

namespace ladle::merge {

at::Tensor TaskSingularVectorMerge::matrix_update(const std::vector<at::Tensor>& task_matrices,
                                                  const MethodInputs& /*inputs*/) const {
  const at::Tensor& first = task_matrices.front();
  const std::int64_t per_task = std::min(first.size(0), first.size(1)) / static_cast<std::int64_t>(task_matrices.size());
  std::vector<SingularValueDecomposition> kept;
  for (const at::Tensor& task : task_matrices) {
    kept.push_back(leading_components(task, per_task, task.norm().item<double>()));
  }
  const SingularValueDecomposition all = concatenate(kept);
  if (all.size() == 0) return at::zeros_like(first);
  return orthogonalised(all).product();
}

}  // namespace ladle::merge
