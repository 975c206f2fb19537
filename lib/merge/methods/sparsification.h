// Sparsification of task vectors, shared by the generalized task arithmetic family (TIES, DARE, Model Breadcrumbs,
// DELLA) as in mergekit's mergekit/sparsify.py, with its hazards fixed (each fix is noted where it is made).
//
// Every function takes one task vector τ (any shape, including 0-d and empty, in the working dtype) and returns a
// tensor of the same shape and dtype: masks are boolean and applied with masked_fill, so a float mask never leaks
// its dtype into the result.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ladle::merge {

enum class Sparsification {
  kMagnitude,          // TIES: keep the largest `density` fraction by |τ|
  kRandom,             // DARE: keep each entry with probability `density`
  kMagnitudeOutliers,  // Model Breadcrumbs: drop the largest `gamma` fraction, keep the next `density` fraction
  kDellaMagprune,      // DELLA: keep with a probability that grows with the entry's magnitude rank in its row
};

// How kept entries are scaled after masking.
enum class Rescale {
  kNone,               // τ ⊙ m
  kMatchL1,            // τ ⊙ m · ‖τ‖₁/‖τ ⊙ m‖₁: mergekit's `rescale: true` (RescaleNorm.l1 in sparsify.py)
  kInverseProbability, // τ ⊙ m / p: the DARE paper (Yu et al. 2024, eq. 2) and DELLA paper (Deep et al. 2024,
                       // eq. 3); keeps E[τ̂] = τ entry by entry
};

struct SparsifyOptions {
  double density = 1.0;           // fraction of entries kept (expected fraction for the random methods)
  double gamma = 0.01;            // kMagnitudeOutliers: fraction of largest entries dropped
  double epsilon = 0.15;          // kDellaMagprune: keep probabilities span [density − ε, density + ε]
  Rescale rescale = Rescale::kNone;
  std::uint64_t seed = 0;         // random methods: the generator's seed (see model_seed)
};

// The number of entries a magnitude method keeps out of n: all for density ≥ 1, none for density ≤ 0, else
// ⌊density·n⌋ as mergekit's int(density * numel), but at least 1: mergekit asserts k > 0 and so crashes on tensors
// with fewer than 1/density entries (a 4-entry norm at density 0.2); a positive density keeps something.
std::int64_t kept_count(double density, std::int64_t n);

// The `count` entries of largest (or smallest) |τ|, exactly the first `count` of a stable sort: ties at the cut are
// broken by flat index, the lowest first (lower_index_first) or the highest first. O(n), one selection (kthvalue)
// and one prefix count, where mergekit sorts the whole tensor (its argsort leaves the order of ties unspecified).
at::Tensor extreme_magnitude_mask(const at::Tensor& values, std::int64_t count, bool largest, bool lower_index_first);
// Entries kept by magnitude: the kept_count(density, n) largest |τ|, ties at the cut to the lower flat index.
at::Tensor top_magnitude_mask(const at::Tensor& values, double density);
// Entries with |τ| ≥ threshold: TIES trimming against a whole-model threshold (see magnitude_threshold.h).
at::Tensor magnitude_threshold_mask(const at::Tensor& values, double threshold);
// Model Breadcrumbs (Davari & Belilovsky 2023): in ascending |τ| order (ties by flat index), drop the n_top = ⌊γ·n⌋
// largest and keep the kept_count(density, n) below them (fewer large ones are dropped when the two overlap, as
// mergekit does).
// mergekit selects sorted[n_bot:-n_top], an empty slice when n_top = 0, so every tensor with fewer than 1/γ
// entries (biases, norms at the default γ = 0.01) is zeroed; we keep sorted[n_bot : n − n_top].
at::Tensor outlier_trimmed_mask(const at::Tensor& values, double density, double gamma);
// DELLA's MAGPRUNE keep probabilities (Deep et al. 2024, Sec. 3.1, as mergekit's della_magprune): within each row
// (dim 0 is the row index; a 0-d or 1-D tensor is one row), the entry of ascending-magnitude rank r ∈ [0, m)
// gets p = density − ε + 2ε·r/(m − 1). A one-entry row gets p = density (mergekit divides 0 by 0 there and fails).
// Throws ladle::Error unless 0 < density − ε and density + ε < 1.
at::Tensor della_keep_probabilities(const at::Tensor& values, double density, double epsilon);
// A Bernoulli mask: each entry is kept when a uniform draw in [0, 1) falls below its probability (`probability`
// is a tensor broadcastable to `sizes`, or use the scalar overload).
at::Tensor bernoulli_mask(const at::Tensor& probability, at::IntArrayRef sizes, at::Generator generator);
at::Tensor bernoulli_mask(double probability, at::IntArrayRef sizes, at::Generator generator);

// τ with the entries outside `mask` zeroed, rescaled as asked; `probability` (a tensor broadcastable to τ, or
// undefined) is only read for kInverseProbability. kMatchL1 leaves the result unscaled when either L1 norm is below
// 1e-7, as mergekit's rescaled_masked_tensor does.
at::Tensor apply_mask(const at::Tensor& values, const at::Tensor& mask, Rescale rescale,
                      const at::Tensor& probability);

// One sparsification method on τ. density ≥ 1 returns τ unchanged (no rescale), as every mergekit method does.
at::Tensor sparsify(const at::Tensor& values, Sparsification method, const SparsifyOptions& options);

}  // namespace ladle::merge
