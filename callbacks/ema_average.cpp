#include "callbacks/ema_average.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "callbacks/background_worker.h"
#include "callbacks/flat_average.h"
#include "callbacks/power_ema.h"
#include "lib/log/log.h"
#include "lib/util/error.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::callbacks {
namespace {

void validate(const EmaOptions& options) {
  if (!(options.decay >= 0.0 && options.decay <= 1.0)) {
    throw Error("EMA: decay is " + std::to_string(options.decay) + ", expected a value in [0, 1]");
  }
  if (!(options.min_decay >= 0.0 && options.min_decay <= options.decay)) {
    throw Error("EMA: min_decay is " + std::to_string(options.min_decay) +
                ", expected a value in [0, decay = " + std::to_string(options.decay) + "]");
  }
  if (!(options.warmup_gamma > 0.0) || !std::isfinite(options.warmup_gamma)) {
    throw Error("EMA: warmup_gamma is " + std::to_string(options.warmup_gamma) + ", expected a positive number");
  }
  if (!(options.warmup_power > 0.0) || !std::isfinite(options.warmup_power)) {
    throw Error("EMA: warmup_power is " + std::to_string(options.warmup_power) + ", expected a positive number");
  }
  if (options.power_gamma) {
    if (!(*options.power_gamma > -1.0) || !std::isfinite(*options.power_gamma)) {
      throw Error("EMA: the power profile's gamma is " + std::to_string(*options.power_gamma) +
                  ", expected a number > -1");
    }
    if (options.warmup) throw Error("EMA: a power-function EMA (gamma, sigma_rel) takes no warmup");
  }
  options.schedule.validate("EMA");
}

// average ← d·average + (1 − d)·live; d = 0 is a copy: ema_update_ computes 0·average + 1·live, which would turn an
// uninitialised NaN into NaN.
void fold(at::Tensor average, const at::Tensor& live, double d) {
  if (d == 0.0) {
    average.copy_(live);
  } else {
    ema_update_(average, live, d);
  }
}

// The options that shape the numbers, recorded in the state so a resume with different ones is reported.
nlohmann::json options_json(const EmaOptions& options) {
  return {{"decay", options.decay},
          {"warmup", options.warmup},
          {"warmup_gamma", options.warmup_gamma},
          {"warmup_power", options.warmup_power},
          {"min_decay", options.min_decay},
          {"start_step", options.schedule.start_step},
          {"every", options.schedule.every},
          {"buffers", buffer_mode_name(options.buffers)},
          {"power_gamma", options.power_gamma ? nlohmann::json(*options.power_gamma) : nlohmann::json(nullptr)}};
}

}  // namespace

double ema_decay(const EmaOptions& options, std::int64_t updates_before) {
  if (updates_before <= 0) return 0.0;
  if (!options.warmup) return options.decay;
  const double t = static_cast<double>(updates_before);
  const double warmed = 1.0 - std::pow(1.0 + t / options.warmup_gamma, -options.warmup_power);
  return std::max(std::min(warmed, options.decay), options.min_decay);
}

EmaAverage::EmaAverage(const FlatParameters& live, NamedTensors live_buffers, EmaOptions options)
    : WeightAverage(live, std::move(live_buffers)), options_(std::move(options)) {
  validate(options_);
  const std::optional<at::Device> device = options_.offload_to_cpu ? std::optional<at::Device>(at::kCPU) : std::nullopt;
  average_ = empty_flat_like(live_, /*accumulate=*/true, device);
  buffer_average_ = make_buffer_storage(live_buffers_, device);
  if (options_.offload_to_cpu) {
    for (const auto& group : live_.groups()) {
      // Pinned host memory lets a GPU copy run at full speed; CPU tensors need (and allow) none.
      staging_.push_back(at::empty({group.values.numel()},
                                   at::TensorOptions().dtype(group.dtype).pinned_memory(!group.device.is_cpu())));
    }
    for (const auto& [name, buffer] : live_buffers_) {
      staging_buffers_.insert(name, at::empty(buffer.sizes(), buffer.options().device(at::kCPU)));
    }
    worker_ = std::make_unique<BackgroundWorker>();
  }
}

EmaAverage::~EmaAverage() = default;

bool EmaAverage::on_optimizer_step(std::int64_t step) {
  if (!options_.schedule.due(step)) return false;
  update(step);
  return true;
}

double EmaAverage::decay_at(std::int64_t step) const {
  if (!options_.power_gamma) return ema_decay(options_, updates_);
  const std::int64_t previous = updates_ == 0 ? 0 : last_step_;
  return power_ema_beta(*options_.power_gamma, step, step - previous);
}

void EmaAverage::update(std::int64_t step) {
  const double d = decay_at(step);
  if (!options_.offload_to_cpu) {
    apply(live_flat_values(live_), live_buffers_, d);
  } else {
    // The staging buffers are free once the previous update is done; the copy is a blocking one, so the live
    // weights may change (the next optimizer step) as soon as update() returns.
    worker_->wait();
    copy_live_values_into(live_, staging_);
    copy_buffers(staging_buffers_, live_buffers_);
    worker_->submit([this, d] { apply(staging_, staging_buffers_, d); });
  }
  record_update(step);
}

void EmaAverage::update_together(const std::vector<EmaAverage*>& emas, std::int64_t step) {
  std::vector<EmaAverage*> joint;
  std::vector<double> decays;
  for (EmaAverage* ema : emas) {
    if (!ema->options_.schedule.due(step)) continue;
    if (ema->options_.offload_to_cpu) {
      ema->update(step);
      continue;
    }
    if (!joint.empty() && &ema->live_ != &joint.front()->live_) {
      throw Error("EMA: update_together needs averages of the same live parameters");
    }
    joint.push_back(ema);
    decays.push_back(ema->decay_at(step));
  }
  if (joint.empty()) return;
  at::NoGradGuard no_grad;
  const auto& groups = joint.front()->live_.groups();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::vector<at::Tensor> folded;
    std::vector<double> folded_decays;
    for (std::size_t k = 0; k < joint.size(); ++k) {
      if (decays[k] == 0.0) {
        fold(joint[k]->average_[g], groups[g].values, 0.0);
      } else {
        folded.push_back(joint[k]->average_[g]);
        folded_decays.push_back(decays[k]);
      }
    }
    ema_update_together_(folded, groups[g].values, folded_decays);
  }
  for (std::size_t k = 0; k < joint.size(); ++k) {
    joint[k]->apply_to_buffers(joint[k]->live_buffers_, decays[k]);
    joint[k]->record_update(step);
  }
}

void EmaAverage::record_update(std::int64_t step) {
  ++updates_;
  last_step_ = step;
}

void EmaAverage::apply(const std::vector<at::Tensor>& values, const NamedTensors& buffers, double d) {
  at::NoGradGuard no_grad;
  for (std::size_t g = 0; g < average_.size(); ++g) fold(average_[g], values[g], d);
  apply_to_buffers(buffers, d);
}

void EmaAverage::apply_to_buffers(const NamedTensors& buffers, double d) {
  at::NoGradGuard no_grad;
  for (auto& [name, stored] : buffer_average_) {
    const at::Tensor& buffer = buffers.at(name);
    if (d == 0.0 || options_.buffers == BufferMode::copy || !at::isFloatingType(buffer.scalar_type())) {
      stored.copy_(buffer);
    } else {
      ema_update_(stored, buffer.to(stored.device()), d);
    }
  }
}

void EmaAverage::wait() {
  if (worker_) worker_->wait();
}

std::vector<at::Tensor> EmaAverage::averaged_flat_values() {
  wait();
  require_average("averaged_flat_values");
  return average_;
}

NamedTensors EmaAverage::averaged_buffers() {
  wait();
  require_average("averaged_buffers");
  return buffer_average_;
}

AveragingState EmaAverage::state() {
  wait();
  AveragingState state;
  state.info = {
      {"kind", name()}, {"updates", updates_}, {"last_step", last_step_}, {"options", options_json(options_)}};
  if (updates_ > 0) {
    state.tensors = named_flat_views(layout_, average_, "average.");
    for (const auto& [name, tensor] : prefixed(buffer_average_, "average.buffer.")) state.tensors.insert(name, tensor);
  }
  return state;
}

void EmaAverage::load_state(const AveragingState& state) {
  wait();
  require_kind(state);
  const std::int64_t updates = info_integer(state, "updates");
  if (updates > 0) {
    load_named_flat(layout_, average_, state.tensors, "average.", "EMA state");
    load_prefixed(buffer_average_, state.tensors, "average.buffer.", "EMA state");
  }
  if (state.info.contains("options") && state.info.at("options") != options_json(options_)) {
    LADLE_LOG(warning) << "EMA: resuming with options " << options_json(options_).dump()
                       << " that differ from the checkpoint's " << state.info.at("options").dump()
                       << "; the run will not match an uninterrupted one";
  }
  updates_ = updates;
  last_step_ = info_integer(state, "last_step");
}

}  // namespace ladle::callbacks
