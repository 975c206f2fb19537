#include "trainer/train_state.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <unordered_map>

#include "lib/model/causal_lm.h"
#include "lib/util/error.h"
#include "trainer/distributed.h"
#include "trainer/train_config.h"

namespace ladle::trainer {

TrainState::TrainState(TrainerServices& services, model::CausalLm& model, Optimizer& optimizer,
                       FlatParameters& parameters, const TrainConfig& config, const text::Tokenizer& tokenizer,
                       ProcessGroup& group)
    : services_(&services),
      model_(&model),
      optimizer_(&optimizer),
      parameters_(&parameters),
      config_(&config),
      tokenizer_(&tokenizer),
      group_(&group) {}

int TrainState::rank() const { return group_->rank(); }
int TrainState::world_size() const { return group_->world_size(); }

bool TrainState::is_log_step() const { return step % config_->log_every_steps == 0 || step == max_steps; }

Metrics TrainState::evaluate(const std::string& label) {
  if (label.empty() || label.find('/') != std::string::npos) {
    throw Error("evaluation label '" + label + "' must be non-empty and without '/'");
  }
  Metrics result = services_->evaluate(label);
  for (const auto& [name, value] : result) {
    metrics[name] = value;
    evaluation_metric_names.push_back(name);
  }
  return result;
}

NamedTensors TrainState::swap_in(const NamedTensors& weights) {
  std::unordered_map<std::string, at::Tensor> parameters;
  for (const auto& item : model_->named_parameters(/*recurse=*/true)) parameters.emplace(item.key(), item.value());
  for (const auto& [name, tensor] : weights) {
    const auto found = parameters.find(name);
    if (found == parameters.end()) throw Error("weights to swap in: '" + name + "' is not a parameter of the model");
    if (found->second.sizes() != tensor.sizes()) {
      throw Error("weights to swap in: '" + name + "' has shape " + c10::str(tensor.sizes()) + ", the parameter " +
                  c10::str(found->second.sizes()));
    }
  }
  at::NoGradGuard no_grad;
  NamedTensors saved;
  for (const auto& [name, tensor] : weights) {
    at::Tensor parameter = parameters.at(name);
    saved.insert(name, parameter.detach().clone());
    parameter.detach().copy_(tensor);
  }
  return saved;
}

void TrainState::restore(const NamedTensors& saved) { swap_in(saved); }

Metrics TrainState::evaluate_with(const NamedTensors& weights, const std::string& label) {
  const NamedTensors live = swap_in(weights);
  Metrics result;
  try {
    result = evaluate(label);
  } catch (...) {
    restore(live);
    throw;
  }
  restore(live);
  return result;
}

void TrainState::save_model_with(const NamedTensors& weights, const std::filesystem::path& directory) {
  const NamedTensors live = swap_in(weights);
  try {
    services_->save_model(directory);
  } catch (...) {
    restore(live);
    throw;
  }
  restore(live);
}

}  // namespace ladle::trainer
