// The whole-model magnitude threshold for TIES-style global trimming (Yadav et al., "TIES-Merging", NeurIPS 2023,
// Sec. 3: "keep the top-k% values" of each task vector as a whole): the k-th largest |τ| over every tensor of one
// model's task vector, with k = kept_count(density, total entries), found exactly while streaming the tensors
// twice, in memory independent of the model's size.
//
// Exact two-pass histogram refinement. A non-negative fp32 value's bit pattern orders like the value, so pass 1
// counts |τ| by the high 16 bits of its fp32 pattern (32768 bins), which locates the bin holding the k-th largest
// and its rank inside that bin; pass 2 counts the low 16 bits of the entries in that one bin (65536 bins), which
// pins the value down to the bit. The result is exactly the k-th largest fp32 |τ|, as a full sort would give.
// Magnitudes are taken in fp32: the working dtype of the merge math (fp64 values are rounded to fp32 first).
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace ladle::merge {

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
