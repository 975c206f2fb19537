#include "lib/merge/methods/magnitude_threshold.h"

#include <ATen/ATen.h>

#include <cstring>
#include <limits>

#include "lib/merge/methods/sparsification.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

constexpr std::int64_t kHighBins = std::int64_t{1} << 15;  // sign bit is 0 for |τ|
constexpr std::int64_t kLowBins = std::int64_t{1} << 16;

// |τ| as contiguous fp32 bit patterns (NaN entries count as the largest magnitudes, so they never lower the
// threshold of the finite ones).
at::Tensor magnitude_bits(const at::Tensor& values) {
  return values.detach().to(at::kCPU).abs().to(at::kFloat).contiguous().view(at::kInt);
}

float float_from_bits(std::uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

MagnitudeThresholdFinder::MagnitudeThresholdFinder(double density)
    : density_(density), high_counts_(kHighBins, 0) {}

void MagnitudeThresholdFinder::add_first_pass(const at::Tensor& values) {
  if (first_pass_done_) throw Error("magnitude threshold: add_first_pass called after the second pass began");
  const at::Tensor bits = magnitude_bits(values);
  const auto* data = bits.data_ptr<std::int32_t>();
  const std::int64_t n = bits.numel();
  for (std::int64_t i = 0; i < n; ++i) ++high_counts_[static_cast<std::uint32_t>(data[i]) >> 16];
  total_ += n;
}

bool MagnitudeThresholdFinder::needs_second_pass() const {
  const std::int64_t k = kept_count(density_, total_);
  return k > 0 && k < total_;
}

void MagnitudeThresholdFinder::locate_bin() {
  first_pass_done_ = true;
  const std::int64_t k = kept_count(density_, total_);
  std::int64_t above = 0;
  for (std::int64_t bin = kHighBins - 1; bin >= 0; --bin) {
    if (above + high_counts_[bin] >= k) {
      bin_ = bin;
      rank_in_bin_ = k - above;
      break;
    }
    above += high_counts_[bin];
  }
  low_counts_.assign(kLowBins, 0);
}

void MagnitudeThresholdFinder::add_second_pass(const at::Tensor& values) {
  if (!first_pass_done_) {
    if (!needs_second_pass()) return;
    locate_bin();
  }
  const at::Tensor bits = magnitude_bits(values);
  const auto* data = bits.data_ptr<std::int32_t>();
  const std::int64_t n = bits.numel();
  const auto bin = static_cast<std::uint32_t>(bin_);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto pattern = static_cast<std::uint32_t>(data[i]);
    if ((pattern >> 16) == bin) ++low_counts_[pattern & 0xFFFFu];
  }
  second_pass_done_ = true;
}

double MagnitudeThresholdFinder::threshold() const {
  const std::int64_t k = kept_count(density_, total_);
  if (k == 0) return std::numeric_limits<double>::infinity();
  if (k == total_) return 0.0;
  if (!second_pass_done_) throw Error("magnitude threshold: the second pass over the tensors is missing");
  std::int64_t seen = 0;
  for (std::int64_t low = kLowBins - 1; low >= 0; --low) {
    seen += low_counts_[low];
    if (seen >= rank_in_bin_) {
      return float_from_bits((static_cast<std::uint32_t>(bin_) << 16) | static_cast<std::uint32_t>(low));
    }
  }
  throw Error("magnitude threshold: the second pass saw fewer entries than the first (were the tensors the same?)");
}

double global_magnitude_threshold(
    const std::function<void(const std::function<void(const at::Tensor&)>&)>& for_each_tensor, double density) {
  MagnitudeThresholdFinder finder(density);
  for_each_tensor([&](const at::Tensor& values) { finder.add_first_pass(values); });
  if (finder.needs_second_pass()) {
    for_each_tensor([&](const at::Tensor& values) { finder.add_second_pass(values); });
  }
  return finder.threshold();
}

}  // namespace ladle::merge
