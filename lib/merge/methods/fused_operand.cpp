#include "lib/merge/methods/fused_operand.h"

namespace ladle::merge {

at::Tensor fused_operand(const at::Tensor& input, at::ScalarType working_dtype) {
  const at::Tensor cpu = input.to(at::kCPU).contiguous();
  const at::ScalarType stored = cpu.scalar_type();
  const bool widens_exactly = (working_dtype == at::kFloat || working_dtype == at::kDouble) &&
                              c10::elementSize(stored) < c10::elementSize(working_dtype);
  if (stored == working_dtype || widens_exactly) return cpu;
  return cpu.to(working_dtype);
}

}  // namespace ladle::merge
