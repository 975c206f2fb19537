#include "lib/weights/nonfinite_values.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>

#include "lib/util/error.h"

// As in lib/weights/tensor_ops.cpp: the counting loop is compiled for AVX-512 and AVX2 as well as baseline x86-64.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LADLE_COUNTING_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LADLE_COUNTING_KERNEL
#endif

namespace ladle {
namespace {

constexpr std::int64_t kBlockEntries = 1 << 20;  // a 1 MiB boolean temporary per block (the ATen path)
constexpr std::int64_t kGrainEntries = 1 << 16;  // entries per thread's chunk (the CPU path)

// IEEE 754 binary formats: an entry is NaN or ±Inf exactly when its exponent bits are all ones.
template <typename Bits, Bits kExponent>
LADLE_COUNTING_KERNEL std::int64_t count_all_ones_exponents(const Bits* bits, std::int64_t n) {
  std::int64_t count = 0;
  for (std::int64_t i = 0; i < n; ++i) count += static_cast<std::int64_t>((bits[i] & kExponent) == kExponent);
  return count;
}

template <typename Bits, Bits kExponent>
std::int64_t count_in_parallel(const at::Tensor& tensor) {
  const Bits* bits = static_cast<const Bits*>(tensor.data_ptr());
  return at::parallel_reduce(
      0, tensor.numel(), kGrainEntries, std::int64_t{0},
      [&](std::int64_t begin, std::int64_t end, std::int64_t partial) {
        return partial + count_all_ones_exponents<Bits, kExponent>(bits + begin, end - begin);
      },
      std::plus<std::int64_t>());
}

// One pass over the bits of a contiguous CPU tensor, without temporaries; nullopt for a layout or dtype it does not
// read (the ATen path counts those).
std::optional<std::int64_t> count_on_cpu(const at::Tensor& tensor) {
  if (!tensor.device().is_cpu() || !tensor.is_contiguous()) return std::nullopt;
  switch (tensor.scalar_type()) {
    case at::kFloat: return count_in_parallel<std::uint32_t, 0x7F800000u>(tensor);
    case at::kDouble: return count_in_parallel<std::uint64_t, 0x7FF0000000000000ull>(tensor);
    case at::kBFloat16: return count_in_parallel<std::uint16_t, 0x7F80u>(tensor);
    case at::kHalf: return count_in_parallel<std::uint16_t, 0x7C00u>(tensor);
    default: return std::nullopt;
  }
}

}  // namespace

std::int64_t count_nonfinite(const at::Tensor& tensor) {
  if (!at::isFloatingType(tensor.scalar_type()) || tensor.numel() == 0) return 0;
  if (const std::optional<std::int64_t> count = count_on_cpu(tensor)) return *count;
  const at::Tensor flat = tensor.reshape({-1});
  const std::int64_t entries = flat.numel();
  std::int64_t count = 0;
  for (std::int64_t first = 0; first < entries; first += kBlockEntries) {
    const at::Tensor block = flat.narrow(0, first, std::min(kBlockEntries, entries - first));
    count += block.numel() - at::isfinite(block).sum().item<std::int64_t>();
  }
  return count;
}

void require_finite(const at::Tensor& tensor, const std::string& model, const std::string& name) {
  const std::int64_t count = count_nonfinite(tensor);
  if (count == 0) return;
  throw Error(model + ": tensor '" + name + "' has " + std::to_string(count) + " NaN or infinite value" +
              (count == 1 ? "" : "s") + " (of " + std::to_string(tensor.numel()) +
              "); the result would hold them too. Use another checkpoint of the model, or pass --allow-nonfinite to "
              "keep them");
}

void require_finite(const NamedTensors& tensors, const std::string& model) {
  for (const auto& [name, tensor] : tensors) require_finite(tensor, model, name);
}

}  // namespace ladle
