#include "lib/merge/methods/sparsification.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "lib/merge/methods/working_arithmetic.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

// mergekit's rescaled_masked_tensor leaves the masked tensor unscaled below this L1 norm.
constexpr double kRescaleNormFloor = 1e-7;
// Random draws are made this many at a time, in order, from one generator: the same stream as one at::rand call.
constexpr std::int64_t kDrawChunk = std::int64_t{1} << 16;

std::int64_t block_count(std::int64_t n) { return (n + kMagnitudeBlock - 1) / kMagnitudeBlock; }

at::Tensor all_of(const at::Tensor& values, bool keep) {
  return at::full(values.sizes(), keep, values.options().dtype(at::kBool));
}

// The tensor as [rows, entries per row]: dim 0 indexes rows; 0-d and 1-D tensors are one row.
at::Tensor as_rows(const at::Tensor& values) {
  if (values.dim() <= 1) return values.reshape({1, -1});
  return values.reshape({values.size(0), -1});
}

// Reads blocks of a contiguous CPU tensor: the source of a tensor given whole.
TaskVectorSource tensor_source(const at::Tensor& flat) {
  const auto* data = static_cast<const char*>(flat.data_ptr());
  const std::size_t element = flat.element_size();
  return [data, element](std::int64_t begin, std::int64_t end, void* out) {
    std::memcpy(out, data + begin * element, static_cast<std::size_t>(end - begin) * element);
  };
}

// The magnitude keys of τ's blocks, read through `source`.
MagnitudeKeySource key_source(at::ScalarType dtype, const TaskVectorSource& source) {
  return [dtype, &source](std::int64_t begin, std::int64_t end, std::uint64_t* keys) {
    std::uint64_t values[kMagnitudeBlock];  // room for kMagnitudeBlock entries of any working dtype
    source(begin, end, values);
    magnitude_keys(dtype, values, end - begin, keys);
  };
}

// The whole of τ as a contiguous tensor of `sizes` (for DELLA's per-row ranks).
at::Tensor materialise(at::ScalarType dtype, at::IntArrayRef sizes, const TaskVectorSource& source) {
  at::Tensor values = at::empty(sizes, at::TensorOptions().dtype(dtype));
  auto* data = static_cast<char*>(values.data_ptr());
  const std::int64_t n = values.numel();
  const std::size_t element = values.element_size();
  at::parallel_for(0, block_count(n), 1, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t block = first; block < last; ++block) {
      const std::int64_t begin = block * kMagnitudeBlock;
      source(begin, std::min(n, begin + kMagnitudeBlock), data + begin * element);
    }
  });
  return values;
}

// Bernoulli draws for n entries, in flat order from one generator seeded with `seed`: keep[i] is
// bernoulli_mask's draw with probability[i] (a flat tensor), or with `density` when probability is undefined.
at::Tensor draw_mask(const at::Tensor& probability, double density, std::int64_t n, std::uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor mask = at::empty({n}, at::TensorOptions().dtype(at::kBool));
  for (std::int64_t begin = 0; begin < n; begin += kDrawChunk) {
    const std::int64_t length = std::min(kDrawChunk, n - begin);
    mask.slice(0, begin, begin + length)
        .copy_(probability.defined()
                   ? bernoulli_mask(probability.slice(0, begin, begin + length), {length}, generator)
                   : bernoulli_mask(density, {length}, generator));
  }
  return mask;
}

// The two counts of Model Breadcrumbs: how many entries of largest magnitude the kept middle and the dropped
// outliers start from the top, i.e. positions [n_bottom, n − n_top) of the stable ascending order.
std::pair<std::int64_t, std::int64_t> outlier_cuts(std::int64_t n, double density, double gamma) {
  const std::int64_t kept = kept_count(density, n);
  std::int64_t n_top = std::clamp<std::int64_t>(static_cast<std::int64_t>(gamma * static_cast<double>(n)), 0, n);
  std::int64_t n_bottom = n - kept - n_top;
  if (n_bottom < 0) {
    // Too few entries for both cuts: drop fewer large ones so that `kept` remain (mergekit's rule).
    n_top += n_bottom;
    n_bottom = 0;
  }
  return {n - n_bottom, n_top};
}

// values[j] = keep[j] ? values[j] : +0, as masked_fill(!mask, 0).
template <typename T>
LADLE_MERGE_KERNEL void zero_dropped(T* __restrict values, const std::uint8_t* __restrict keep, std::int64_t count) {
  const T zero = WorkingArithmetic<T>::scalar(0.0);
  for (std::int64_t j = 0; j < count; ++j) values[j] = WorkingArithmetic<T>::select(keep[j], values[j], zero);
}

// values[j] = values[j]·factor, as tensor * scalar.
template <typename T>
LADLE_MERGE_KERNEL void multiply_all(T* __restrict values, T factor, std::int64_t count) {
  for (std::int64_t j = 0; j < count; ++j) values[j] = WorkingArithmetic<T>::multiply(values[j], factor);
}

// keep[j] = low ≤ keys[j] ≤ high.
LADLE_MERGE_KERNEL void mark_key_range(const std::uint64_t* __restrict keys, std::int64_t count, std::uint64_t low,
                                       std::uint64_t high, std::uint8_t* __restrict keep) {
  for (std::int64_t j = 0; j < count; ++j) keep[j] = (keys[j] >= low) & (keys[j] <= high);
}

template <typename T>
void sum_magnitudes(const T* values, const std::uint8_t* keep, std::int64_t count, double& all, double& kept) {
  for (std::int64_t j = 0; j < count; ++j) {
    const double magnitude = std::abs(static_cast<double>(values[j]));
    all += magnitude;
    if (keep[j]) kept += magnitude;
  }
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
  const at::Tensor flat = values.detach().to(at::kCPU).contiguous().view(-1);
  const at::ScalarType dtype = flat.scalar_type();
  const TaskVectorSource source = tensor_source(flat);
  // The smallest `count` are the complement of the largest n − count with the opposite tie order.
  const TopMagnitudes selection = select_top_magnitudes(n, dtype, key_source(dtype, source),
                                                        {largest ? count : n - count},
                                                        largest ? lower_index_first : !lower_index_first)
                                      .front();
  at::Tensor mask = at::empty({n}, at::TensorOptions().dtype(at::kBool));
  auto* selected = reinterpret_cast<std::uint8_t*>(mask.data_ptr<bool>());
  at::parallel_for(0, block_count(n), 1, [&](std::int64_t first, std::int64_t last) {
    std::uint64_t keys[kMagnitudeBlock];
    for (std::int64_t block = first; block < last; ++block) {
      const std::int64_t begin = block * kMagnitudeBlock;
      const std::int64_t length = std::min(n, begin + kMagnitudeBlock) - begin;
      magnitude_keys(dtype, static_cast<const char*>(flat.data_ptr()) + begin * flat.element_size(), length, keys);
      selection.mark(block, keys, length, selected + begin);
      if (!largest) {
        for (std::int64_t j = 0; j < length; ++j) selected[begin + j] ^= 1;
      }
    }
  });
  return mask.view(values.sizes()).to(values.device());
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
  // Not among the n_bottom first of the stable ascending order (the complement of the n − n_bottom largest, ties
  // to the higher index) and not among its n_top last (the n_top largest, ties to the higher index).
  const auto [above_bottom, n_top] = outlier_cuts(values.numel(), density, gamma);
  const at::Tensor middle = extreme_magnitude_mask(values, above_bottom, /*largest=*/true, /*lower_index_first=*/false);
  const at::Tensor top = extreme_magnitude_mask(values, n_top, /*largest=*/true, /*lower_index_first=*/false);
  return middle & top.logical_not();
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

at::Tensor sparsify(const at::Tensor& values, Sparsification method, const SparsifyOptions& options) {
  if (options.density >= 1.0) return values;
  if (values.numel() == 0) return values.clone();
  const at::Tensor flat = values.detach().to(at::kCPU).contiguous().view(-1);
  const ResolvedSparsification resolved =
      ResolvedSparsification::resolve(method, {options}, flat.scalar_type(), values.sizes(), {tensor_source(flat)})
          .front();
  at::Tensor result = flat.clone();
  auto* data = static_cast<char*>(result.data_ptr());
  const std::int64_t n = result.numel();
  at::parallel_for(0, block_count(n), 1, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t block = first; block < last; ++block) {
      const std::int64_t begin = block * kMagnitudeBlock;
      resolved.apply(block, data + begin * result.element_size(), std::min(n, begin + kMagnitudeBlock) - begin);
    }
  });
  return result.view(values.sizes()).to(values.device());
}

// ---- ResolvedSparsification ----

std::vector<ResolvedSparsification> ResolvedSparsification::resolve(Sparsification method,
                                                                    const std::vector<SparsifyOptions>& options,
                                                                    at::ScalarType dtype, at::IntArrayRef sizes,
                                                                    const std::vector<TaskVectorSource>& sources) {
  std::int64_t n = 1;
  for (const std::int64_t size : sizes) n *= size;
  std::vector<ResolvedSparsification> resolved(sources.size(), ResolvedSparsification(dtype, n));
  std::vector<MagnitudeSelectionRequest> requests;
  std::vector<std::size_t> requesters;
  std::vector<ResolvedSparsification*> rescaled;
  std::vector<const TaskVectorSource*> rescaled_sources;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const SparsifyOptions& option = options[i];
    ResolvedSparsification& result = resolved[i];
    if (option.density >= 1.0 || n == 0) continue;
    const bool random = method == Sparsification::kRandom || method == Sparsification::kDellaMagprune;
    if (random && option.density <= 0.0) {
      // mergekit returns zeros here, unscaled.
      result.keep_ = Keep::kNone;
      continue;
    }
    switch (method) {
      case Sparsification::kMagnitude:
        result.keep_ = Keep::kTop;
        requests.push_back({key_source(dtype, sources[i]), {kept_count(option.density, n)}, true});
        requesters.push_back(i);
        break;
      case Sparsification::kMagnitudeOutliers: {
        const auto [above_bottom, n_top] = outlier_cuts(n, option.density, option.gamma);
        result.keep_ = Keep::kMiddle;
        requests.push_back({key_source(dtype, sources[i]), {above_bottom, n_top}, false});
        requesters.push_back(i);
        break;
      }
      case Sparsification::kRandom:
        result.keep_ = Keep::kMask;
        result.mask_ = draw_mask(at::Tensor(), option.density, n, option.seed);
        if (option.rescale == Rescale::kInverseProbability) {
          result.scale_ = Scale::kDivideByScalar;
          result.factor_ = option.density;
        }
        break;
      case Sparsification::kDellaMagprune: {
        const at::Tensor probability =
            della_keep_probabilities(materialise(dtype, sizes, sources[i]), option.density, option.epsilon).view(-1);
        result.keep_ = Keep::kMask;
        result.mask_ = draw_mask(probability, option.density, n, option.seed);
        if (option.rescale == Rescale::kInverseProbability) {
          result.scale_ = Scale::kDivideByEntry;
          result.probability_ = probability.to(dtype).contiguous();
        }
        break;
      }
    }
    if (option.rescale == Rescale::kMatchL1) {
      rescaled.push_back(&result);
      rescaled_sources.push_back(&sources[i]);
    }
  }
  if (!requests.empty()) {
    std::vector<std::vector<TopMagnitudes>> selections = select_top_magnitudes(n, dtype, requests);
    for (std::size_t r = 0; r < requests.size(); ++r) resolved[requesters[r]].selections_ = std::move(selections[r]);
  }
  if (!rescaled.empty()) resolve_l1_rescales(rescaled, rescaled_sources);
  return resolved;
}

ResolvedSparsification ResolvedSparsification::by_threshold(double threshold, Rescale rescale, at::ScalarType dtype,
                                                            std::int64_t n, const TaskVectorSource& source) {
  ResolvedSparsification resolved(dtype, n);
  resolved.keep_ = Keep::kKeyRange;
  resolved.key_low_ = first_key_at_least(dtype, static_cast<float>(threshold));
  resolved.key_high_ = infinite_magnitude_key(dtype);
  if (rescale == Rescale::kMatchL1) resolve_l1_rescales({&resolved}, {&source});
  return resolved;
}

void ResolvedSparsification::resolve_l1_rescales(const std::vector<ResolvedSparsification*>& resolved,
                                                 const std::vector<const TaskVectorSource*>& sources) {
  // Per-block sums, added in block order: the same result for any thread count.
  const std::int64_t n = resolved.front()->n_;
  const at::ScalarType dtype = resolved.front()->dtype_;
  const std::int64_t blocks = block_count(n);
  std::vector<std::vector<double>> all(resolved.size(), std::vector<double>(blocks, 0.0));
  std::vector<std::vector<double>> kept(resolved.size(), std::vector<double>(blocks, 0.0));
  at::parallel_for(0, blocks, 1, [&](std::int64_t first, std::int64_t last) {
    std::uint64_t values[kMagnitudeBlock];
    std::uint8_t keep[kMagnitudeBlock];
    for (std::int64_t block = first; block < last; ++block) {
      const std::int64_t begin = block * kMagnitudeBlock;
      const std::int64_t count = std::min(n, begin + kMagnitudeBlock) - begin;
      for (std::size_t i = 0; i < resolved.size(); ++i) {
        (*sources[i])(begin, begin + count, values);
        resolved[i]->select(block, values, count, keep);
        AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dtype, "l1 rescale", [&] {
          sum_magnitudes(reinterpret_cast<const scalar_t*>(values), keep, count, all[i][block], kept[i][block]);
        });
      }
    }
  });
  for (std::size_t i = 0; i < resolved.size(); ++i) {
    double before = 0.0;
    double after = 0.0;
    for (std::int64_t block = 0; block < blocks; ++block) {
      before += all[i][block];
      after += kept[i][block];
    }
    if (before < kRescaleNormFloor || after < kRescaleNormFloor) continue;
    resolved[i]->scale_ = Scale::kFactor;
    resolved[i]->factor_ = before / after;
  }
}

void ResolvedSparsification::select(std::int64_t block, const void* values, std::int64_t count,
                                    std::uint8_t* keep) const {
  if (keep_ == Keep::kAll || keep_ == Keep::kNone) {
    std::fill(keep, keep + count, static_cast<std::uint8_t>(keep_ == Keep::kAll));
    return;
  }
  if (keep_ == Keep::kMask) {
    std::memcpy(keep, mask_.data_ptr<bool>() + block * kMagnitudeBlock, static_cast<std::size_t>(count));
    return;
  }
  std::uint64_t keys[kMagnitudeBlock];
  magnitude_keys(dtype_, values, count, keys);
  switch (keep_) {
    case Keep::kTop:
      selections_[0].mark(block, keys, count, keep);
      return;
    case Keep::kMiddle: {
      std::uint8_t outlier[kMagnitudeBlock];
      selections_[0].mark(block, keys, count, keep);
      selections_[1].mark(block, keys, count, outlier);
      for (std::int64_t j = 0; j < count; ++j) keep[j] &= outlier[j] ^ 1;
      return;
    }
    case Keep::kKeyRange:
      mark_key_range(keys, count, key_low_, key_high_, keep);
      return;
    default:
      return;
  }
}

template <typename T>
void ResolvedSparsification::apply_typed(std::int64_t block, T* values, std::int64_t count) const {
  using Arithmetic = WorkingArithmetic<T>;
  const T zero = Arithmetic::scalar(0.0);
  std::uint8_t keep[kMagnitudeBlock];
  select(block, values, count, keep);
  // masked_fill(!mask, 0), then the rescale: τ̂·(‖τ‖₁/‖τ̂‖₁), or where(mask, τ̂/p, 0).
  zero_dropped(values, keep, count);
  switch (scale_) {
    case Scale::kNone:
      return;
    case Scale::kFactor:
      multiply_all(values, Arithmetic::scalar(factor_), count);
      return;
    case Scale::kDivideByScalar: {
      const T probability = Arithmetic::scalar(factor_);
      for (std::int64_t j = 0; j < count; ++j) {
        values[j] = Arithmetic::select(keep[j], Arithmetic::divide(values[j], probability), zero);
      }
      return;
    }
    case Scale::kDivideByEntry: {
      const T* probability = probability_.data_ptr<T>() + block * kMagnitudeBlock;
      for (std::int64_t j = 0; j < count; ++j) {
        values[j] = Arithmetic::select(keep[j], Arithmetic::divide(values[j], probability[j]), zero);
      }
      return;
    }
  }
}

void ResolvedSparsification::apply(std::int64_t block, void* values, std::int64_t count) const {
  if (identity()) return;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dtype_, "sparsify block", [&] {
    apply_typed(block, static_cast<scalar_t*>(values), count);
  });
}

}  // namespace ladle::merge
