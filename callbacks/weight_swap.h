// ScopedWeightSwap: puts an average's weights into the live model for evaluation or saving, and puts the live
// weights back exactly (bit for bit) when it is restored or destroyed.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "callbacks/weight_average.h"
#include "lib/weights/flat_parameters.h"
#include "lib/weights/named_tensors.h"

namespace ladle::callbacks {

class ScopedWeightSwap {
 public:
  // Copies the live parameter groups and buffers aside (one copy of the trainable weights), then copies the
  // average's parameters (rounded to the live dtype) and buffers into them. `live` must be the FlatParameters the
  // average follows. Throws ladle::Error when the average has no update yet; nothing is changed then.
  ScopedWeightSwap(FlatParameters& live, WeightAverage& average);
  // Restores the live weights unless restore() already did.
  ~ScopedWeightSwap();
  ScopedWeightSwap(const ScopedWeightSwap&) = delete;
  ScopedWeightSwap& operator=(const ScopedWeightSwap&) = delete;

  // Copies the saved live weights back; later calls do nothing.
  void restore();

 private:
  FlatParameters& live_;
  NamedTensors live_buffers_;         // aliases of the module's buffers
  std::vector<at::Tensor> saved_values_;  // the live groups' values before the swap
  NamedTensors saved_buffers_;
  bool restored_ = false;
};

}  // namespace ladle::callbacks
