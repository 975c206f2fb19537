// An input of a fused merge kernel: a contiguous CPU tensor read block by block in the merge's working dtype, so
// that no whole-tensor working copy is made. A tensor stored in a narrower floating dtype that widens exactly to
// the working dtype (bf16 or fp16 to fp32, anything narrower to fp64) is widened one block at a time into a scratch
// buffer; a narrowing conversion (which rounds) is done whole, once, as Tensor::to does.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <cstdint>
#include <type_traits>

#include "lib/merge/methods/working_arithmetic.h"

namespace ladle::merge {

struct Operand {
  const void* data = nullptr;
  at::ScalarType dtype = at::kFloat;
};

// `input` as the fused kernels read it: on the CPU, contiguous, and in its stored dtype when that widens exactly to
// `working_dtype`, otherwise converted to it. Keep the returned tensor alive while its Operand is used.
at::Tensor fused_operand(const at::Tensor& input, at::ScalarType working_dtype);

inline Operand operand_of(const at::Tensor& input) { return {input.data_ptr(), input.scalar_type()}; }

// out = in widened to the working dtype: exact (bf16 and fp16 to fp32 or fp64, fp32 to fp64), as Tensor::to is.
template <typename S, typename T>
LADLE_MERGE_KERNEL void widen_block(const S* __restrict in, T* __restrict out, std::int64_t count) {
  using Narrow = std::conditional_t<sizeof(S) == 2, float, S>;  // 16-bit floats widen through fp32
  for (std::int64_t j = 0; j < count; ++j) out[j] = static_cast<T>(static_cast<Narrow>(in[j]));
}

// The operand's entries [begin, begin + count) in the working dtype T: its own storage when it is stored in T,
// else widened into `scratch` (room for `count` entries).
template <typename T>
const T* working_entries(const Operand& operand, std::int64_t begin, std::int64_t count, T* scratch) {
  if (operand.dtype == c10::CppTypeToScalarType<T>::value) return static_cast<const T*>(operand.data) + begin;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, operand.dtype, "widen to the working dtype", [&] {
    widen_block(static_cast<const scalar_t*>(operand.data) + begin, scratch, count);
  });
  return scratch;
}

}  // namespace ladle::merge
