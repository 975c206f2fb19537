#include "callbacks/swa_average.h"

#include <ATen/ATen.h>

#include <utility>

#include "callbacks/flat_average.h"
#include "lib/log/log.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::callbacks {
namespace {

nlohmann::json options_json(const SwaOptions& options) {
  return {{"start_step", options.schedule.start_step},
          {"every", options.schedule.every},
          {"buffers", buffer_mode_name(options.buffers)}};
}

}  // namespace

SwaAverage::SwaAverage(const FlatParameters& live, NamedTensors live_buffers, SwaOptions options)
    : WeightAverage(live, std::move(live_buffers)), options_(std::move(options)) {
  options_.schedule.validate("SWA");
  average_ = empty_flat_like(live_, /*accumulate=*/true);
  buffer_average_ = make_buffer_storage(live_buffers_);
}

bool SwaAverage::on_optimizer_step(std::int64_t step) {
  if (!options_.schedule.due(step)) return false;
  update(step);
  return true;
}

void SwaAverage::update(std::int64_t step) {
  at::NoGradGuard no_grad;
  for (std::size_t g = 0; g < average_.size(); ++g) running_mean_update_(average_[g], live_.groups()[g].values, updates_);
  for (auto& [name, stored] : buffer_average_) {
    const at::Tensor& buffer = live_buffers_.at(name);
    if (options_.buffers == BufferMode::copy || !at::isFloatingType(buffer.scalar_type())) {
      stored.copy_(buffer);
    } else {
      running_mean_update_(stored, buffer, updates_);
    }
  }
  ++updates_;
  last_step_ = step;
}

std::vector<at::Tensor> SwaAverage::averaged_flat_values() {
  require_average("averaged_flat_values");
  return average_;
}

NamedTensors SwaAverage::averaged_buffers() {
  require_average("averaged_buffers");
  return buffer_average_;
}

AveragingState SwaAverage::state() {
  AveragingState state;
  state.info = {{"kind", name()}, {"updates", updates_}, {"last_step", last_step_}, {"options", options_json(options_)}};
  if (updates_ > 0) {
    state.tensors = named_flat_views(layout_, average_, "average.");
    for (const auto& [name, tensor] : prefixed(buffer_average_, "average.buffer.")) state.tensors.insert(name, tensor);
  }
  return state;
}

void SwaAverage::load_state(const AveragingState& state) {
  require_kind(state);
  const std::int64_t updates = info_integer(state, "updates");
  if (updates > 0) {
    load_named_flat(layout_, average_, state.tensors, "average.", "SWA state");
    load_prefixed(buffer_average_, state.tensors, "average.buffer.", "SWA state");
  }
  if (state.info.contains("options") && state.info.at("options") != options_json(options_)) {
    LADLE_LOG(warning) << "SWA: resuming with options " << options_json(options_).dump()
                       << " that differ from the checkpoint's " << state.info.at("options").dump();
  }
  updates_ = updates;
  last_step_ = info_integer(state, "last_step");
}

}  // namespace ladle::callbacks
