#include "callbacks/weight_swap.h"

#include <ATen/ATen.h>

#include "callbacks/flat_average.h"
#include "lib/util/error.h"

namespace ladle::callbacks {

ScopedWeightSwap::ScopedWeightSwap(FlatParameters& live, WeightAverage& average)
    : live_(live), live_buffers_(average.live_buffers()) {
  if (&average.live() != &live) {
    throw Error(average.name() + ": the weights to swap are not the ones this average follows");
  }
  const std::vector<at::Tensor> values = average.averaged_flat_values();  // throws when there is no average
  const NamedTensors buffers = average.averaged_buffers();
  saved_values_ = copy_live_values(live_);
  at::NoGradGuard no_grad;
  for (const auto& [name, buffer] : live_buffers_) saved_buffers_.insert(name, buffer.clone());
  live_.copy_from_flat(values);
  for (const auto& [name, buffer] : live_buffers_) buffer.copy_(buffers.at(name));
}

ScopedWeightSwap::~ScopedWeightSwap() { restore(); }

void ScopedWeightSwap::restore() {
  if (restored_) return;
  restored_ = true;
  live_.copy_from_flat(saved_values_);
  at::NoGradGuard no_grad;
  for (const auto& [name, buffer] : live_buffers_) buffer.copy_(saved_buffers_.at(name));
}

}  // namespace ladle::callbacks
