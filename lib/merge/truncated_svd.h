// The singular value decomposition of one matrix and what the SVD-based parts of merging take from it: the leading
// components (LoRA re-factorisation, TSV-M, Iso-CTS), the numerical rank, and the nearest matrix with orthonormal
// columns or rows (the orthogonalisation step of TSV-M and Iso-CTS).
//
// Every SVD runs in fp32, or fp64 for fp64 input (LAPACK has no bf16/fp16 routine), and returns that dtype; it runs
// on the calling thread alone (the merge executor parallelises over tensors; truncated_svd.cpp says why).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace ladle::merge {

// matrix = u · diag(s) · vh with orthonormal columns of u and rows of vh, s in decreasing order.
struct SingularValueDecomposition {
  at::Tensor u;   // [m, k]
  at::Tensor s;   // [k]
  at::Tensor vh;  // [k, n]

  std::int64_t size() const { return s.size(0); }
  // The first `count` components (count ≤ size()).
  SingularValueDecomposition leading(std::int64_t count) const;
  // u · diag(s) · vh.
  at::Tensor product() const;
};

// The thin SVD of `matrix` [m, n] (k = min(m, n)). Throws ladle::Error when `matrix` is not 2-D.
SingularValueDecomposition thin_svd(const at::Tensor& matrix);

// How many singular values exceed ε·max(m, n)·scale, ε the machine epsilon of s's dtype: numpy's matrix_rank
// tolerance, with `scale` the size of the matrix the components were computed from (numpy: the largest singular
// value; a caller that projected part of a matrix away passes the unprojected matrix's norm, so that what the
// projection leaves of a direction it removed, rounding noise, is not counted as rank). Components beyond it are
// zero up to rounding and their directions are arbitrary (any orthonormal completion LAPACK happens to pick).
std::int64_t numerical_rank(const SingularValueDecomposition& svd, std::int64_t rows, std::int64_t columns,
                            double scale);

// The leading components of `matrix`'s thin SVD, at most `count` and no more than its numerical rank against
// `scale` (the Frobenius norm of the matrix before any projection: every SVD merge method measures rank so).
SingularValueDecomposition leading_components(const at::Tensor& matrix, std::int64_t count, double scale);

// The orthonormal factor of `matrix` [m, n] in the polar decomposition matrix = P·H: P = U·Vᵀ of its thin SVD
// U·S·Vᵀ, the matrix with orthonormal columns (m ≥ n) or rows (m < n) nearest to it in Frobenius norm (the
// "whitening" U⊥ = P·Qᵀ of Gargiulo et al. 2025, Eq. 7). Components past the numerical rank are left out, so a
// rank-deficient matrix (duplicate or dependent columns) gets the partial isometry on its range instead of one
// completed with arbitrary directions: then P·Pᵀ·matrix = matrix and the result does not depend on LAPACK.
at::Tensor orthonormal_factor(const at::Tensor& matrix);

// The components of several decompositions of same-shaped matrices side by side: u = [u₁ … u_T] [m, Σkᵢ],
// s = [s₁ … s_T], vh = [vh₁; …; vh_T] [Σkᵢ, n] (no longer orthonormal nor sorted).
SingularValueDecomposition concatenate(const std::vector<SingularValueDecomposition>& parts);
// The same components with u and vh replaced by their orthonormal factors (TSV-M's Eq. 7, Iso-CTS's step 4).
SingularValueDecomposition orthogonalised(const SingularValueDecomposition& components);

}  // namespace ladle::merge
