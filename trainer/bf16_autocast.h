// A scope in which forward passes run under bf16 autocast (docs/building.md §3: oneDNN's AVX512_BF16 path),
// as Python's `with torch.autocast("cpu", dtype=torch.bfloat16)` sets it up: parameters stay fp32 (the master
// weights the optimizer updates) and eligible ops (matmul, linear, ...) cast their inputs to bf16. Leaving the
// outermost scope clears autocast's cache of casted weights, so the next forward sees the updated weights.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace ladle::trainer {

class Bf16Autocast {
 public:
  // Does nothing when `enabled` is false. CPU devices use CPU autocast, CUDA devices GPU autocast.
  Bf16Autocast(bool enabled, c10::Device device);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool enabled_;
  bool cuda_;
  bool previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::kBFloat16;
};

}  // namespace ladle::trainer
