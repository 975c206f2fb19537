#include "lib/merge/methods/sparsification.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "lib/util/error.h"

namespace ladle::merge {
namespace {

// mergekit's rescaled_masked_tensor leaves the masked tensor unscaled below this L1 norm.
constexpr double kRescaleNormFloor = 1e-7;

at::Tensor all_of(const at::Tensor& values, bool keep) {
  return at::full(values.sizes(), keep, values.options().dtype(at::kBool));
}

// |τ| flattened, in a dtype kthvalue handles on every device (fp32, or fp64 for fp64 inputs).
at::Tensor flat_magnitudes(const at::Tensor& values) {
  const at::ScalarType dtype = values.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  return values.abs().reshape(-1).to(dtype);
}

// The tensor as [rows, entries per row]: dim 0 indexes rows; 0-d and 1-D tensors are one row.
at::Tensor as_rows(const at::Tensor& values) {
  if (values.dim() <= 1) return values.reshape({1, -1});
  return values.reshape({values.size(0), -1});
}

}  // namespace

std::int64_t kept_count(double density, std::int64_t n) {
  if (n <= 0 || density <= 0.0) return 0;
  if (density >= 1.0) return n;
  const auto k = static_cast<std::int64_t>(density * static_cast<double>(n));
  return std::clamp<std::int64_t>(k, 1, n);
}

at::Tensor extreme_magnitude_mask(const at::Tensor& values, std::int64_t count, bool largest,
                                  bool lower_index_first) {
  const std::int64_t n = values.numel();
  if (count >= n) return all_of(values, true);
  if (count <= 0) return all_of(values, false);
  const at::Tensor magnitudes = flat_magnitudes(values);
  // The cut value: the count-th largest (or smallest). Everything strictly beyond it is in; of the entries equal
  // to it, as many as are still missing, in index order.
  const at::Tensor cut = std::get<0>(at::kthvalue(magnitudes, largest ? n - count + 1 : count));
  const at::Tensor beyond = largest ? magnitudes > cut : magnitudes < cut;
  const std::int64_t missing = count - beyond.sum().item<std::int64_t>();
  const at::Tensor at_cut = magnitudes == cut;
  // Usually (distinct magnitudes) every entry at the cut is needed and no prefix count is required.
  if (at_cut.sum().item<std::int64_t>() == missing) return (beyond | at_cut).view(values.sizes());
  const at::Tensor order = lower_index_first ? at_cut.cumsum(0) : at_cut.flip(0).cumsum(0).flip(0);
  return (beyond | (at_cut & (order <= missing))).view(values.sizes());
}

at::Tensor top_magnitude_mask(const at::Tensor& values, double density) {
  return extreme_magnitude_mask(values, kept_count(density, values.numel()), /*largest=*/true,
                                /*lower_index_first=*/true);
}

at::Tensor magnitude_threshold_mask(const at::Tensor& values, double threshold) {
  // Compared in fp32, the precision magnitude_threshold.h finds thresholds in.
  return values.abs().to(at::kFloat) >= static_cast<float>(threshold);
}

at::Tensor outlier_trimmed_mask(const at::Tensor& values, double density, double gamma) {
  const std::int64_t n = values.numel();
  const std::int64_t kept = kept_count(density, n);
  std::int64_t n_top = std::clamp<std::int64_t>(static_cast<std::int64_t>(gamma * static_cast<double>(n)), 0, n);
  std::int64_t n_bottom = n - kept - n_top;
  if (n_bottom < 0) {
    // Too few entries for both cuts: drop fewer large ones so that `kept` remain (mergekit's rule).
    n_top += n_bottom;
    n_bottom = 0;
  }
  // Positions [n_bottom, n − n_top) of the stable ascending order: neither among its first n_bottom nor its last
  // n_top (the last ones of equal magnitude are the highest indices).
  const at::Tensor bottom = extreme_magnitude_mask(values, n_bottom, /*largest=*/false, /*lower_index_first=*/true);
  const at::Tensor top = extreme_magnitude_mask(values, n_top, /*largest=*/true, /*lower_index_first=*/false);
  return (bottom | top).logical_not();
}

at::Tensor della_keep_probabilities(const at::Tensor& values, double density, double epsilon) {
  if (!(density - epsilon > 0.0 && density + epsilon < 1.0)) {
    throw Error("della: density ± epsilon must lie in (0, 1), got density " + std::to_string(density) +
                " and epsilon " + std::to_string(epsilon));
  }
  const at::Tensor rows = as_rows(values);
  const std::int64_t m = rows.size(1);
  const at::ScalarType dtype = at::isFloatingType(values.scalar_type()) ? values.scalar_type() : at::kFloat;
  if (m <= 1) return at::full(values.sizes(), density, values.options().dtype(dtype));
  // rank[i] = position of entry i in its row's ascending-magnitude order (ties by index), as argsort(argsort).
  const at::Tensor order = std::get<1>(at::sort(rows.abs(), /*stable=*/true, /*dim=*/1, /*descending=*/false));
  const at::Tensor positions = at::arange(m, order.options()).expand_as(order);
  const at::Tensor rank = at::empty_like(order).scatter_(1, order, positions);
  const at::Tensor rank_fraction = rank.to(dtype) / static_cast<double>(m - 1);
  return ((density - epsilon) + rank_fraction * (2.0 * epsilon)).view(values.sizes());
}

at::Tensor bernoulli_mask(const at::Tensor& probability, at::IntArrayRef sizes, at::Generator generator) {
  // Uniform draws on the CPU generator, compared with p: Bernoulli(p) for p in [0, 1], reproducible from the seed
  // whatever the thread count (ATen's CPU uniform_ kernel is serial).
  const at::Tensor draws = at::rand(sizes, generator, at::TensorOptions().dtype(at::kFloat));
  return draws.to(probability.device()) < probability.to(at::kFloat);
}

at::Tensor bernoulli_mask(double probability, at::IntArrayRef sizes, at::Generator generator) {
  return at::rand(sizes, generator, at::TensorOptions().dtype(at::kFloat)) < probability;
}

at::Tensor apply_mask(const at::Tensor& values, const at::Tensor& mask, Rescale rescale,
                      const at::Tensor& probability) {
  const at::Tensor masked = values.masked_fill(mask.to(values.device()).logical_not(), 0);
  switch (rescale) {
    case Rescale::kNone:
      return masked;
    case Rescale::kMatchL1: {
      const double before = values.abs().sum(at::kDouble).item<double>();
      const double after = masked.abs().sum(at::kDouble).item<double>();
      if (before < kRescaleNormFloor || after < kRescaleNormFloor) return masked;
      return masked * (before / after);
    }
    case Rescale::kInverseProbability:
      // Dropped entries are already 0; p > 0 wherever an entry can be kept.
      return at::where(mask.to(values.device()), masked / probability.to(values.scalar_type()),
                       at::zeros({}, values.options()));
  }
  return masked;
}

at::Tensor sparsify(const at::Tensor& values, Sparsification method, const SparsifyOptions& options) {
  if (options.density >= 1.0) return values;
  if (values.numel() == 0) return values.clone();
  const at::Tensor density = at::scalar_tensor(options.density, values.options());
  switch (method) {
    case Sparsification::kMagnitude:
      return apply_mask(values, top_magnitude_mask(values, options.density), options.rescale, density);
    case Sparsification::kMagnitudeOutliers:
      return apply_mask(values, outlier_trimmed_mask(values, options.density, options.gamma), options.rescale,
                        density);
    case Sparsification::kRandom: {
      if (options.density <= 0.0) return at::zeros_like(values);
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
      return apply_mask(values, bernoulli_mask(options.density, values.sizes(), generator), options.rescale,
                        density);
    }
    case Sparsification::kDellaMagprune: {
      if (options.density <= 0.0) return at::zeros_like(values);
      const at::Tensor probability = della_keep_probabilities(values, options.density, options.epsilon);
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
      return apply_mask(values, bernoulli_mask(probability, values.sizes(), generator), options.rescale,
                        probability);
    }
  }
  return values;
}

}  // namespace ladle::merge
