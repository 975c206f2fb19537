// Element arithmetic in a merge's working dtype, rounded exactly as ATen's CPU kernels round the same tensor
// expressions, so that a fused block-by-block loop gives the bits the unfused tensor code gave (checked against
// ATen in tests/merge/methods/selection_test.cpp):
// - fp32 and fp64: native IEEE operations, one rounding each (no contraction into fused multiply-adds: callers'
//   loops are compiled with fp-contract off), except `fused_multiply_add`, which is what ATen's add with an alpha
//   computes (vec::fmadd, and the scalar tail is fused as well);
// - bf16 and fp16: operands widened to fp32 exactly, each operation computed in fp32 and rounded back (nearest,
//   ties to even), as c10::BFloat16 / c10::Half arithmetic and ATen's vectorised kernels do;
// - a scalar operand (tensor * 0.7, tensor.add_(other, alpha)) is first converted to the working dtype, as ATen
//   converts a wrapped scalar to the tensor's dtype.
#pragma once

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

// For the merge's per-entry loops: compiled for AVX-512 and AVX2 as well as baseline x86-64 (GCC function
// multi-versioning picks one when the library is loaded, as in lib/weights/tensor_ops.cpp), and never contracted
// into fused multiply-adds, which would round differently from ATen's separate kernels.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LADLE_MERGE_KERNEL \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("fp-contract=off")))
#else
#define LADLE_MERGE_KERNEL
#endif

namespace ladle::merge {

template <typename T>
struct WorkingArithmetic {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, c10::BFloat16> ||
                    std::is_same_v<T, c10::Half>,
                "working dtypes are bf16, fp16, fp32 and fp64");
  // The dtype ATen computes T's operations in, and accumulates T's sums in (tensor_ops' accumulation dtype).
  using Wide = std::conditional_t<std::is_same_v<T, double>, double, float>;

  static Wide widen(T x) { return static_cast<Wide>(x); }
  static T narrow(Wide x) {
    if constexpr (std::is_same_v<T, c10::BFloat16>) {
      // c10::BFloat16(float) (round to nearest even, NaN to 0x7FC0) without its NaN branch, so that loops vectorise.
      std::uint32_t bits;
      std::memcpy(&bits, &x, sizeof bits);
      const std::uint32_t rounded = (bits + ((bits >> 16) & 1u) + 0x7FFFu) >> 16;
      const std::uint32_t nan = static_cast<std::uint32_t>(0) - static_cast<std::uint32_t>(x != x);
      return c10::BFloat16(static_cast<std::uint16_t>((rounded & ~nan) | (0x7FC0u & nan)), c10::BFloat16::from_bits());
    } else {
      return static_cast<T>(x);
    }
  }
  // A C++ double scalar as ATen converts it to T (through fp32 for bf16 and fp16, as c10::convert does).
  static T scalar(double x) { return static_cast<T>(x); }

  static T add(T a, T b) { return narrow(widen(a) + widen(b)); }
  static T subtract(T a, T b) { return narrow(widen(a) - widen(b)); }
  static T multiply(T a, T b) { return narrow(widen(a) * widen(b)); }
  static T divide(T a, T b) { return narrow(widen(a) / widen(b)); }
  // accumulator + a·b rounded once, in the wide dtype.
  static Wide fused_multiply_add(Wide a, Wide b, Wide accumulator) { return std::fma(a, b, accumulator); }
  // condition ? if_true : if_false, without a branch: the operands' bits are masked. (A ternary on bf16/fp16,
  // class types, compiled to a branch, which mispredicted on half the entries of a density-0.5 mask: 36% of a
  // bf16 TIES merge's samples.)
  static T select(bool condition, T if_true, T if_false) {
    using Bits = std::conditional_t<sizeof(T) == 2, std::uint16_t,
                                    std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;
    Bits true_bits;
    Bits false_bits;
    std::memcpy(&true_bits, &if_true, sizeof(Bits));
    std::memcpy(&false_bits, &if_false, sizeof(Bits));
    const auto mask = static_cast<Bits>(Bits{0} - static_cast<Bits>(condition));
    const auto bits = static_cast<Bits>((true_bits & mask) | (false_bits & static_cast<Bits>(~mask)));
    T result;
    std::memcpy(&result, &bits, sizeof(Bits));
    return result;
  }
};

}  // namespace ladle::merge
