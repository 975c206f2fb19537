// Sparsification of task vectors, shared by the generalized task arithmetic family (TIES, DARE, Model Breadcrumbs,
// DELLA) as in mergekit's mergekit/sparsify.py, with its hazards fixed (each fix is noted where it is made).
//
// Every function takes one task vector τ (any shape, including 0-d and empty, in the working dtype: bf16, fp16,
// fp32 or fp64) and returns a tensor of the same shape and dtype: masks are boolean, so a float mask never leaks
// its dtype into the result.
//
// The merge itself never materialises τ, τ̂ or a mask for the magnitude methods: ResolvedSparsification (below)
// resolves each task vector's sparsification over the whole tensor first (selection cuts, random draws, the L1
// rescale factor) and then produces τ̂ block by block in the pass that merges. sparsify() runs the same code, so the
// whole-tensor functions and the merge agree bit for bit.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "lib/merge/methods/magnitude_threshold.h"

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
// broken by flat index, the lowest first (lower_index_first) or the highest first; NaN counts as the largest
// magnitude, as sorts place it. O(n) by radix selection on the magnitudes' bit patterns (select_top_magnitudes),
// where mergekit sorts the whole tensor (its argsort leaves the order of ties unspecified).
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

// One sparsification method on τ: the entries outside the method's mask set to +0 and the kept ones rescaled as
// options.rescale asks. density ≥ 1 returns τ unchanged (no rescale), as every mergekit method does. kMatchL1 leaves
// the result unscaled when either L1 norm is below 1e-7, as mergekit's rescaled_masked_tensor does; the norms are
// summed in fp64, per block and then over blocks in order, so they do not depend on the thread count.
at::Tensor sparsify(const at::Tensor& values, Sparsification method, const SparsifyOptions& options);

// ---- Block-wise sparsification: the merge's streaming path ----

// Writes τ at flat positions [begin, end) to `out`, in the working dtype; begin is a multiple of kMagnitudeBlock and
// end − begin ≤ kMagnitudeBlock. Called concurrently for different blocks.
using TaskVectorSource = std::function<void(std::int64_t begin, std::int64_t end, void* out)>;

// One task vector's sparsification, resolved over its whole tensor so that τ̂ can then be produced block by block
// (kMagnitudeBlock positions) from τ's entries in that block, as sparsify() computes it. Memory: nothing per entry
// for the magnitude methods, one byte per entry for the random ones (their draws are made serially from the seed,
// as at::rand draws them), plus the keep probabilities for DELLA.
class ResolvedSparsification {
 public:
  // Resolves `method` for task vectors of shape `sizes` and working dtype `dtype`, one per source, each with its
  // options; their selections share passes over the blocks.
  static std::vector<ResolvedSparsification> resolve(Sparsification method, const std::vector<SparsifyOptions>& options,
                                                     at::ScalarType dtype, at::IntArrayRef sizes,
                                                     const std::vector<TaskVectorSource>& sources);
  // τ̂ = τ: no sparsification (task_arithmetic).
  static ResolvedSparsification keep_all(at::ScalarType dtype, std::int64_t n) { return {dtype, n}; }
  // Keeps the entries with |τ| ≥ threshold compared in fp32 (as magnitude_threshold_mask), rescaled as asked
  // (kNone or kMatchL1): TIES trimming against a whole-model threshold.
  static ResolvedSparsification by_threshold(double threshold, Rescale rescale, at::ScalarType dtype, std::int64_t n,
                                             const TaskVectorSource& source);

  // True when τ̂ = τ: nothing dropped, nothing scaled.
  bool identity() const { return keep_ == Keep::kAll && scale_ == Scale::kNone; }
  // Turns τ's entries of block `block` into τ̂'s, in place: `values` holds `count` entries of the working dtype.
  void apply(std::int64_t block, void* values, std::int64_t count) const;

 private:
  enum class Keep { kAll, kNone, kTop, kMiddle, kKeyRange, kMask };
  enum class Scale { kNone, kFactor, kDivideByScalar, kDivideByEntry };

  ResolvedSparsification(at::ScalarType dtype, std::int64_t n) : dtype_(dtype), n_(n) {}
  // keep[j] ∈ {0, 1} for the entries of block `block`, whose τ values are given.
  void select(std::int64_t block, const void* values, std::int64_t count, std::uint8_t* keep) const;
  template <typename T>
  void apply_typed(std::int64_t block, T* values, std::int64_t count) const;
  // kMatchL1 for each of `resolved`: scale by ‖τ‖₁/‖τ̂‖₁ unless either is below the floor (one shared pass).
  static void resolve_l1_rescales(const std::vector<ResolvedSparsification*>& resolved,
                                  const std::vector<const TaskVectorSource*>& sources);

  at::ScalarType dtype_;
  std::int64_t n_;
  Keep keep_ = Keep::kAll;
  std::vector<TopMagnitudes> selections_;  // kTop: {kept}; kMiddle: {kept and outliers, outliers}
  std::uint64_t key_low_ = 0;              // kKeyRange: kept keys are [key_low_, key_high_]
  std::uint64_t key_high_ = 0;
  at::Tensor mask_;                        // kMask: flat bool, one entry per position
  Scale scale_ = Scale::kNone;
  double factor_ = 1.0;                    // kFactor: the L1 ratio; kDivideByScalar: the keep probability
  at::Tensor probability_;                 // kDivideByEntry: flat keep probabilities in the working dtype
};

}  // namespace ladle::merge
