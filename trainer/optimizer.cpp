#include "trainer/optimizer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "lib/model/layers.h"
#include "lib/util/error.h"
#include "lib/weights/flat_parameters.h"

namespace ladle::trainer {

WeightDecayPartition weight_decay_partition(const torch::nn::Module& module, bool decay_embeddings) {
  std::unordered_set<const void*> embeddings;
  for (const auto& item : module.named_modules()) {
    if (dynamic_cast<const model::Embedding*>(item.value().get()) == nullptr) continue;
    for (const auto& parameter : item.value()->parameters(/*recurse=*/false)) {
      embeddings.insert(parameter.unsafeGetTensorImpl());
    }
  }
  WeightDecayPartition partition;
  std::unordered_set<const void*> seen;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    const at::Tensor& parameter = item.value();
    if (!parameter.requires_grad() || !seen.insert(parameter.unsafeGetTensorImpl()).second) continue;
    const bool is_embedding = embeddings.count(parameter.unsafeGetTensorImpl()) != 0;
    const bool decays = parameter.dim() >= 2 && (decay_embeddings || !is_embedding);
    (decays ? partition.decay : partition.no_decay).emplace_back(item.key(), parameter);
  }
  return partition;
}

Optimizer::Optimizer(const OptimizerConfig& config, FlatParameters& parameters, std::int64_t decay_numel)
    : config_(config), parameters_(parameters), decay_numel_(decay_numel), learning_rate_(config.lr) {
  if (parameters.groups().size() != 1) {
    throw Error("optimizer: the trainable parameters must share one dtype and device (found " +
                std::to_string(parameters.groups().size()) + " groups)");
  }
  const FlatParameterGroup& group = parameters.groups().front();
  if (group.dtype != at::kFloat && group.dtype != at::kDouble) {
    throw Error(std::string("optimizer: trainable parameters must be fp32 or fp64 master weights, got ") +
                c10::toString(group.dtype) + " (train in bf16 with bf16 autocast instead)");
  }
  if (!group.gradients.defined()) throw Error("optimizer: the flat parameters have no flat gradient buffer");
  if (decay_numel < 0 || decay_numel > group.values.numel()) {
    throw Error("optimizer: decay_numel " + std::to_string(decay_numel) + " outside the buffer of " +
                std::to_string(group.values.numel()) + " elements");
  }
  values_ = group.values;
  gradients_ = group.gradients;
}

at::Tensor Optimizer::new_buffer() const { return at::zeros_like(values_); }

void Optimizer::copy_saved_tensors(const NamedTensors& saved, const NamedTensors& targets) {
  for (const auto& [name, target] : targets) {
    if (!saved.contains(name)) throw Error("optimizer state: missing tensor '" + name + "'");
    const at::Tensor& source = saved.at(name);
    if (source.sizes() != target.sizes() || source.scalar_type() != target.scalar_type()) {
      throw Error("optimizer state: tensor '" + name + "' has the wrong shape or dtype");
    }
    target.copy_(source);
  }
}

void Optimizer::for_each_chunk(const std::function<void(std::int64_t, std::int64_t)>& update) const {
  const std::int64_t numel = values_.numel();
  at::parallel_for(0, numel, kChunk, [&](std::int64_t begin, std::int64_t end) {
    at::NoGradGuard no_grad;
    for (std::int64_t start = begin; start < end; start += kChunk) update(start, std::min(kChunk, end - start));
  });
}

NamedTensors Optimizer::state_tensors() const {
  NamedTensors tensors;
  const FlatParameterGroup& group = parameters_.groups().front();
  for (const auto& [buffer_name, buffer] : buffers()) {
    for (const auto& slot : group.slots) {
      tensors.insert(buffer_name + "." + slot.name, buffer.narrow(0, slot.offset, slot.numel).view(slot.shape));
    }
  }
  return tensors;
}

nlohmann::json Optimizer::state_json() const {
  nlohmann::json json = {{"name", optimizer_kind_name(config_.name)},
                         {"steps", steps_},
                         {"learning_rate", learning_rate_},
                         {"decay_numel", decay_numel_},
                         {"numel", values_.numel()}};
  json["extra"] = extra_state();
  return json;
}

void Optimizer::load_state(const NamedTensors& tensors, const nlohmann::json& json) {
  const std::string expected = optimizer_kind_name(config_.name);
  try {
    if (json.contains("online_merging")) {
      throw Error("optimizer state: the checkpoint merged updates online (online_merging), this run does not "
                  "(resuming exactly needs the same)");
    }
    if (json.at("name").get<std::string>() != expected) {
      throw Error("optimizer state: saved by " + json.at("name").get<std::string>() + ", this run uses " + expected);
    }
    if (json.at("numel").get<std::int64_t>() != values_.numel() ||
        json.at("decay_numel").get<std::int64_t>() != decay_numel_) {
      throw Error("optimizer state: saved for " + std::to_string(json.at("numel").get<std::int64_t>()) +
                  " trainable elements (" + std::to_string(json.at("decay_numel").get<std::int64_t>()) +
                  " decayed), this model has " + std::to_string(values_.numel()) + " (" + std::to_string(decay_numel_) +
                  ")");
    }
    NamedTensors expected_tensors = state_tensors();
    for (const auto& [name, tensor] : tensors) {
      if (!expected_tensors.contains(name)) throw Error("optimizer state: unexpected tensor '" + name + "'");
    }
    copy_saved_tensors(tensors, expected_tensors);
    steps_ = json.at("steps").get<std::int64_t>();
    learning_rate_ = json.at("learning_rate").get<double>();
    load_extra_state(json.at("extra"));
  } catch (const nlohmann::json::exception& error) {
    throw Error(std::string("optimizer state: malformed JSON: ") + error.what());
  }
}

AdamW::AdamW(const OptimizerConfig& config, FlatParameters& parameters, std::int64_t decay_numel)
    : Optimizer(config, parameters, decay_numel), exp_avg_(new_buffer()), exp_avg_sq_(new_buffer()) {}

void AdamW::step() {
  ++steps_;
  const double lr = learning_rate_, beta1 = config_.betas[0], beta2 = config_.betas[1];
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(steps_));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(steps_));
  const double step_size = lr / bias_correction1;
  for_each_chunk([&](std::int64_t start, std::int64_t length) {
    at::Tensor p = values_.narrow(0, start, length), g = gradients_.narrow(0, start, length);
    at::Tensor m = exp_avg_.narrow(0, start, length), v = exp_avg_sq_.narrow(0, start, length);
    const std::int64_t decayed = std::clamp<std::int64_t>(decay_numel_ - start, 0, length);
    if (config_.weight_decay != 0 && decayed > 0) p.narrow(0, 0, decayed).mul_(1 - lr * config_.weight_decay);
    m.mul_(beta1).add_(g, 1 - beta1);
    v.mul_(beta2).addcmul_(g, g, 1 - beta2);
    const at::Tensor denominator = (v.sqrt() / std::sqrt(bias_correction2)).add_(config_.eps);
    p.addcdiv_(m, denominator, -step_size);
  });
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::buffers() const {
  return {{"exp_avg", exp_avg_}, {"exp_avg_sq", exp_avg_sq_}};
}

Sgd::Sgd(const OptimizerConfig& config, FlatParameters& parameters, std::int64_t decay_numel)
    : Optimizer(config, parameters, decay_numel) {
  if (config.momentum != 0) momentum_buffer_ = new_buffer();
}

void Sgd::step() {
  ++steps_;
  const bool first = !momentum_initialized_;
  momentum_initialized_ = true;
  for_each_chunk([&](std::int64_t start, std::int64_t length) {
    const at::Tensor p = values_.narrow(0, start, length), g = gradients_.narrow(0, start, length);
    at::Tensor direction = g;
    const std::int64_t decayed = std::clamp<std::int64_t>(decay_numel_ - start, 0, length);
    if (config_.weight_decay != 0 && decayed > 0) {
      direction = g.clone();
      direction.narrow(0, 0, decayed).add_(p.narrow(0, 0, decayed), config_.weight_decay);
    }
    if (config_.momentum != 0) {
      at::Tensor buffer = momentum_buffer_.narrow(0, start, length);
      if (first) {
        buffer.copy_(direction);
      } else {
        buffer.mul_(config_.momentum).add_(direction);
      }
      direction = config_.nesterov ? direction.add(buffer, config_.momentum) : buffer;
    }
    p.add_(direction, -learning_rate_);
  });
}

std::vector<std::pair<std::string, at::Tensor>> Sgd::buffers() const {
  if (!momentum_buffer_.defined()) return {};
  return {{"momentum_buffer", momentum_buffer_}};
}

void Sgd::load_extra_state(const nlohmann::json& json) {
  momentum_initialized_ = json.at("momentum_initialized").get<bool>();
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, FlatParameters& parameters,
                                          std::int64_t decay_numel) {
  if (config.name == OptimizerKind::sgd) return std::make_unique<Sgd>(config, parameters, decay_numel);
  return std::make_unique<AdamW>(config, parameters, decay_numel);
}

}  // namespace ladle::trainer
