#include "lib/merge/methods/isotropic.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "lib/merge/methods/method_support.h"
#include "lib/merge/truncated_svd.h"

namespace ladle::merge {
namespace {

// σ̄·U⊥·V⊥ᵀ over the kept components of all subspaces; zero when nothing is kept (every task matrix is zero).
at::Tensor isotropic_product(const std::vector<SingularValueDecomposition>& subspaces, const at::Tensor& like) {
  const SingularValueDecomposition joined = concatenate(subspaces);
  if (joined.size() == 0) return at::zeros_like(like);
  SingularValueDecomposition all = orthogonalised(joined);
  all.s = at::full_like(all.s, all.s.mean().item<double>());
  return all.product();
}

struct SubspaceSizes {
  std::int64_t common = 0;    // k
  std::int64_t per_task = 0;  // s
};

// Step 1 of Iso-CTS (see the header) for `rank` = min(m, n) directions and `tasks` tasks.
SubspaceSizes subspace_sizes(std::int64_t rank, std::int64_t tasks, double fraction) {
  const auto common_guess = static_cast<std::int64_t>(std::floor(static_cast<double>(rank) * fraction));
  // std::nearbyint rounds half to even in the default rounding mode, as Python's round does.
  const auto rounded =
      static_cast<std::int64_t>(std::nearbyint(static_cast<double>(rank - common_guess) / static_cast<double>(tasks)));
  const std::int64_t per_task = std::min(rounded, rank / tasks);
  return {rank - tasks * per_task, per_task};
}

}  // namespace

at::Tensor IsotropicCommonMerge::matrix_update(const std::vector<at::Tensor>& task_matrices,
                                               const MethodInputs& /*inputs*/) const {
  const at::Tensor sum = at::stack(task_matrices).sum(0);
  const std::int64_t rank = std::min(sum.size(0), sum.size(1));
  return isotropic_product({leading_components(sum, rank, sum.norm().item<double>())}, sum);
}

std::vector<ParameterSpec> IsotropicCommonAndTaskMerge::extra_parameters() const {
  return {{"common_space_fraction", false, false, 0.8, config::in_open_closed(0, 1)}};
}

at::Tensor IsotropicCommonAndTaskMerge::matrix_update(const std::vector<at::Tensor>& task_matrices,
                                                      const MethodInputs& inputs) const {
  const double fraction = method_parameter(name(), parameters(), inputs, "common_space_fraction");
  const at::Tensor sum = at::stack(task_matrices).sum(0);
  const std::int64_t rank = std::min(sum.size(0), sum.size(1));
  const SubspaceSizes sizes = subspace_sizes(rank, static_cast<std::int64_t>(task_matrices.size()), fraction);

  std::vector<SingularValueDecomposition> subspaces = {
      leading_components(sum, sizes.common, sum.norm().item<double>())};
  const at::Tensor common_u = subspaces.front().u;
  for (const at::Tensor& task : task_matrices) {
    const at::Tensor residual = task - at::matmul(common_u, at::matmul(common_u.transpose(0, 1), task));
    subspaces.push_back(leading_components(residual, sizes.per_task, task.norm().item<double>()));
  }
  return isotropic_product(subspaces, sum);
}

}  // namespace ladle::merge
