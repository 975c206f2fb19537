#include "callbacks/weight_average.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "callbacks/flat_average.h"
#include "lib/util/error.h"

namespace ladle::callbacks {

void StepSchedule::validate(const std::string& owner) const {
  if (start_step < 0) {
    throw Error(owner + ": start_step is " + std::to_string(start_step) + ", expected a step count >= 0");
  }
  if (every < 1) throw Error(owner + ": the update interval is " + std::to_string(every) + ", expected >= 1 step");
}

std::int64_t StepSchedule::first_due_after(std::int64_t step) const {
  const std::int64_t candidate = std::max(start_step, step + 1);
  const std::int64_t past_start = candidate - start_step;
  return candidate + (every - past_start % every) % every;
}

std::string buffer_mode_name(BufferMode mode) { return mode == BufferMode::average ? "average" : "copy"; }

NamedTensors module_buffers(const torch::nn::Module& module) {
  NamedTensors buffers;
  for (const auto& item : module.named_buffers(/*recurse=*/true)) buffers.insert(item.key(), item.value());
  return buffers;
}

WeightAverage::WeightAverage(const FlatParameters& live, NamedTensors live_buffers)
    : live_(live), layout_(layout_of(live)), live_buffers_(std::move(live_buffers)) {}

NamedTensors WeightAverage::averaged_weights() {
  wait();
  require_average("averaged_weights");
  at::NoGradGuard no_grad;
  // One conversion pass per group; the named tensors are views of the converted copy.
  std::vector<at::Tensor> rounded;
  const std::vector<at::Tensor> flat = averaged_flat_values();
  for (std::size_t g = 0; g < flat.size(); ++g) {
    rounded.push_back(flat[g].to(layout_[g].dtype, /*non_blocking=*/false, /*copy=*/true));
  }
  NamedTensors weights = named_flat_views(layout_, rounded, "");
  for (const auto& [name, buffer] : averaged_buffers()) {
    weights.insert(name, buffer.to(live_buffers_.at(name).scalar_type(), /*non_blocking=*/false, /*copy=*/true));
  }
  return weights;
}

void WeightAverage::require_average(const std::string& action) const {
  if (count() == 0) {
    throw Error(name() + ": " + action + " needs an average, but no update has happened yet (the first one is due at "
                "the schedule's start step)");
  }
}

void WeightAverage::require_kind(const AveragingState& state) const {
  const auto kind = state.info.find("kind");
  if (kind == state.info.end() || !kind->is_string() || kind->get<std::string>() != name()) {
    throw Error(name() + ": the checkpoint state is not a '" + name() + "' state (its kind is " +
                (kind == state.info.end() ? std::string("missing") : kind->dump()) + ")");
  }
}

std::int64_t WeightAverage::info_integer(const AveragingState& state, const std::string& key) const {
  const auto value = state.info.find(key);
  if (value == state.info.end() || !value->is_number_integer()) {
    throw Error(name() + ": the checkpoint state has no integer '" + key + "' (its info is " + state.info.dump() + ")");
  }
  return value->get<std::int64_t>();
}

}  // namespace ladle::callbacks
