// Exact magnitude thresholds: the k-th largest |τ| of one tensor (TIES trimming, Model Breadcrumbs, SCE) or of a
// whole model's task vector (TIES-paper global trimming), in O(n) time and without sorting or index tensors.
//
// Both rest on one fact: a non-negative IEEE-754 number's bit pattern, read as an unsigned integer, orders like the
// number. So |x| is represented by its magnitude key, the bit pattern with the sign bit cleared (NaN keys lie above
// +inf's, where a sort puts NaN), and the k-th largest magnitude is the k-th largest key, found by counting key
// digits (a most-significant-digit radix selection) instead of comparing values.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace ladle::merge {

// ---- Top-k by magnitude within one tensor ----
//
// Keys are visited in blocks of kMagnitudeBlock flat positions, in parallel over ATen's threads. A sample of 16
// evenly spread blocks brackets the wanted key between two sample quantiles (Floyd & Rivest, "Algorithm 489:
// SELECT", CACM 1975); one pass then counts the keys above the bracket and collects those inside it (typically
// 2% of them), and std::nth_element over the collected keys finishes. Tensors of at most 65536 entries are collected
// whole. When the cut splits a run of equal keys, the collected keys (kept in index order) tell how many of the run
// lie in each block, so that the ones kept are the lowest (or highest) flat indices, exactly as a stable sort orders
// them. Should the bracket miss (a non-representative sample) or hold too many keys (long runs of equal
// magnitudes), a most-significant-digit radix selection takes over: passes counting 12 key bits at a time, then one
// counting the run at the cut per block. Counts are integers, so the result never depends on the thread count.

inline constexpr std::int64_t kMagnitudeBlock = 4096;

// Writes the magnitude keys of flat positions [begin, end) to keys[0, end − begin); begin is a multiple of
// kMagnitudeBlock and end − begin ≤ kMagnitudeBlock. Called concurrently for different blocks.
using MagnitudeKeySource = std::function<void(std::int64_t begin, std::int64_t end, std::uint64_t* keys)>;

// The magnitude keys of `count` floating-point values of `dtype` (bf16, fp16, fp32 or fp64) stored at `values`.
void magnitude_keys(at::ScalarType dtype, const void* values, std::int64_t count, std::uint64_t* keys);
// How many low bits a key of `dtype` may use: 15, 31 or 63.
int magnitude_key_bits(at::ScalarType dtype);
// The key of +inf in `dtype`: keys above it are NaN.
std::uint64_t infinite_magnitude_key(at::ScalarType dtype);
// The smallest key of `dtype` whose value, converted to fp32, is ≥ threshold (infinite_magnitude_key + 1 when
// none is): |x| ≥ threshold in fp32 exactly when key(x) lies in [this, infinite_magnitude_key].
std::uint64_t first_key_at_least(at::ScalarType dtype, float threshold);

struct MagnitudeSelectionRequest;

// The `count` entries of largest magnitude among n: exactly the first `count` of a stable descending sort by
// magnitude (equal magnitudes at the cut go to the lower flat index), or with lower_index_first false the last
// `count` of a stable ascending sort (equal magnitudes at the cut go to the higher flat index).
class TopMagnitudes {
 public:
  // Membership of the positions of block `block` ([block·kMagnitudeBlock, +count)), given their keys:
  // selected[j] = 1 or 0.
  void mark(std::int64_t block, const std::uint64_t* keys, std::int64_t count, std::uint8_t* selected) const;

 private:
  friend std::vector<std::vector<TopMagnitudes>> select_top_magnitudes(
      std::int64_t, at::ScalarType, const std::vector<MagnitudeSelectionRequest>&);
  bool everything_ = false;
  bool nothing_ = false;
  std::uint64_t cut_ = 0;               // the count-th largest key
  std::int64_t ties_ = 0;               // entries whose key is cut_
  std::int64_t ties_kept_ = 0;          // how many of them are selected
  bool lower_index_first_ = true;
  std::vector<std::int64_t> ties_before_;  // per block: entries at the cut in earlier blocks (split runs only)
};

// Top-k selections over one source of n keys: one per entry of `counts` (each clamped to [0, n]).
struct MagnitudeSelectionRequest {
  MagnitudeKeySource keys;
  std::vector<std::int64_t> counts;
  bool lower_index_first = true;
};

// The selections of every request, each over n keys of `dtype`, found in shared passes: a block's keys of every
// request are produced together, so sources that read a shared input (the base model) read each block once.
std::vector<std::vector<TopMagnitudes>> select_top_magnitudes(std::int64_t n, at::ScalarType dtype,
                                                              const std::vector<MagnitudeSelectionRequest>& requests);
// One request.
std::vector<TopMagnitudes> select_top_magnitudes(std::int64_t n, at::ScalarType dtype, const MagnitudeKeySource& keys,
                                                 const std::vector<std::int64_t>& counts, bool lower_index_first);

// ---- The k-th largest |τ| over a whole model ----
//
// The TIES paper (Yadav et al., "TIES-Merging", NeurIPS 2023, Sec. 3: "keep the top-k% values" of each task vector
// as a whole) trims against the k-th largest |τ| over every tensor of one model's task vector, with
// k = kept_count(density, total entries), found here exactly while streaming the tensors twice, in memory
// independent of the model's size. Pass 1 counts |τ| by the high 16 bits of its fp32 pattern (32768 bins), which
// locates the bin holding the k-th largest and its rank inside that bin; pass 2 counts the low 16 bits of the
// entries in that one bin (65536 bins), which pins the value down to the bit. Magnitudes are taken in fp32: the
// working dtype of the merge math (fp64 values are rounded to fp32 first).

class MagnitudeThresholdFinder {
 public:
  // Keeps kept_count(density, n) of the n entries seen in pass 1.
  explicit MagnitudeThresholdFinder(double density);

  // Pass 1: call for every tensor of the task vector (any shapes, any floating dtype, any order).
  void add_first_pass(const at::Tensor& values);
  // True when pass 2 is needed: after pass 1, unless the answer is already known (keep all or none).
  bool needs_second_pass() const;
  // Pass 2: call again for the same tensors (order may differ).
  void add_second_pass(const at::Tensor& values);
  // Entries with |τ| ≥ threshold() are kept: 0 keeps everything (density ≥ 1), +inf keeps nothing (density ≤ 0 or
  // no entries). Throws ladle::Error when a needed pass is missing.
  double threshold() const;

 private:
  void locate_bin();

  double density_;
  std::int64_t total_ = 0;
  std::vector<std::int64_t> high_counts_;  // pass 1: entries per high-16-bit pattern
  std::vector<std::int64_t> low_counts_;   // pass 2: entries of the located bin per low-16-bit pattern
  bool first_pass_done_ = false;
  bool second_pass_done_ = false;
  std::int64_t bin_ = -1;                  // high bits of the k-th largest
  std::int64_t rank_in_bin_ = 0;           // 1-based rank from the top inside that bin
};

// Convenience: runs both passes. `for_each_tensor(visit)` must call visit(τ) for every tensor of one model's task
// vector (the executor streams θᵢ − θ₀ tensor by tensor); it is called once or twice.
double global_magnitude_threshold(
    const std::function<void(const std::function<void(const at::Tensor&)>&)>& for_each_tensor, double density);

}  // namespace ladle::merge
