// Eigendecomposition of a small symmetric matrix by the cyclic Jacobi method (Golub & Van Loan, "Matrix
// Computations", 4th ed., section 8.5.3): plain double arithmetic in a fixed order, so the result is the same bit
// for bit on every run and thread count, which a seeded search that must resume exactly relies on (LAPACK's
// result can depend on the BLAS build and its threads). O(n^3) per sweep; meant for n up to a few hundred.
#pragma once

#include <cstddef>
#include <vector>

namespace ladle::search {

struct SymmetricEigen {
  std::vector<double> values;   // the n eigenvalues, ascending
  std::vector<double> vectors;  // n x n, row-major; column j is the unit eigenvector of values[j]
};

// `matrix` is n x n, row-major, symmetric (only its upper triangle is read). Sweeps until every off-diagonal entry
// is negligible next to the diagonal (at most 64 sweeps; Jacobi converges quadratically, in well under 15 sweeps
// for n <= 100 in practice).
SymmetricEigen symmetric_eigen(const std::vector<double>& matrix, std::size_t n);

}  // namespace ladle::search
