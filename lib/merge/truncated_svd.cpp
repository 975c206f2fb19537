#include "lib/merge/truncated_svd.h"

#include <ATen/ATen.h>
#include <omp.h>

#include <algorithm>
#include <limits>
#include <string>

#include "lib/util/error.h"

namespace ladle::merge {
namespace {

// Runs the calling thread's OpenMP regions (Debian's OpenBLAS is its OpenMP build) on one thread while alive. LAPACK's
// SVD is a long chain of small BLAS calls, each a parallel region ending in a barrier, and the merge executor already
// computes tensors on every core: a 3-task tsv_m of 128-500-wide matrices took 9.3 s of CPU with OpenMP's 2 threads
// per worker and 1.1 s with 1 (2 cores under load 16; with one executor worker and 2 OpenMP threads, 25.7 s).
class SingleThreadedOpenMp {
 public:
  SingleThreadedOpenMp() { omp_set_num_threads(1); }
  ~SingleThreadedOpenMp() { omp_set_num_threads(previous_); }
  SingleThreadedOpenMp(const SingleThreadedOpenMp&) = delete;
  SingleThreadedOpenMp& operator=(const SingleThreadedOpenMp&) = delete;

 private:
  int previous_ = omp_get_max_threads();
};

}  // namespace

SingularValueDecomposition SingularValueDecomposition::leading(std::int64_t count) const {
  return {u.narrow(1, 0, count), s.narrow(0, 0, count), vh.narrow(0, 0, count)};
}

at::Tensor SingularValueDecomposition::product() const { return at::matmul(u * s, vh); }

SingularValueDecomposition thin_svd(const at::Tensor& matrix) {
  if (matrix.dim() != 2) throw Error("SVD: expected a matrix, got a tensor with " + std::to_string(matrix.dim()) +
                                     " dimension(s)");
  const at::Tensor working = matrix.to(matrix.scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
  const SingleThreadedOpenMp single_threaded;
  const auto [u, s, vh] = at::linalg_svd(working, /*full_matrices=*/false);
  return {u, s, vh};
}

std::int64_t numerical_rank(const SingularValueDecomposition& svd, std::int64_t rows, std::int64_t columns,
                            double scale) {
  const double epsilon = svd.s.scalar_type() == at::kDouble ? std::numeric_limits<double>::epsilon()
                                                            : std::numeric_limits<float>::epsilon();
  const double tolerance = epsilon * static_cast<double>(std::max(rows, columns)) * scale;
  return (svd.s > tolerance).sum().item<std::int64_t>();
}

SingularValueDecomposition leading_components(const at::Tensor& matrix, std::int64_t count, double scale) {
  const SingularValueDecomposition svd = thin_svd(matrix);
  return svd.leading(std::min(count, numerical_rank(svd, matrix.size(0), matrix.size(1), scale)));
}

at::Tensor orthonormal_factor(const at::Tensor& matrix) {
  const SingularValueDecomposition svd = thin_svd(matrix);
  if (svd.size() == 0) return svd.u.matmul(svd.vh);
  const double largest = svd.s[0].item<double>();
  const SingularValueDecomposition kept =
      svd.leading(numerical_rank(svd, matrix.size(0), matrix.size(1), largest));
  return at::matmul(kept.u, kept.vh);
}

SingularValueDecomposition concatenate(const std::vector<SingularValueDecomposition>& parts) {
  std::vector<at::Tensor> us;
  std::vector<at::Tensor> ss;
  std::vector<at::Tensor> vhs;
  for (const SingularValueDecomposition& part : parts) {
    us.push_back(part.u);
    ss.push_back(part.s);
    vhs.push_back(part.vh);
  }
  return {at::cat(us, 1), at::cat(ss), at::cat(vhs, 0)};
}

SingularValueDecomposition orthogonalised(const SingularValueDecomposition& components) {
  return {orthonormal_factor(components.u), components.s, orthonormal_factor(components.vh)};
}

}  // namespace ladle::merge
