#include "trainer/online_merging_optimizer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <utility>

#include "lib/io/checkpoint_reader.h"
#include "lib/log/log.h"
#include "lib/util/error.h"
#include "lib/util/splitmix64.h"
#include "lib/weights/flat_parameters.h"

namespace ladle::trainer {
namespace {

const Optimizer& checked(const std::unique_ptr<Optimizer>& inner) {
  if (!inner) throw Error("online merging: no optimizer to wrap");
  return *inner;
}

// Copies the folder's tensor for every slot into `flat` (the slots' layout), converted to its dtype.
void read_flat(const FlatParameterGroup& group, const std::filesystem::path& folder, at::Tensor& flat) {
  const io::CheckpointReader reader(folder);
  for (const FlatParameterSlot& slot : group.slots) {
    if (!reader.contains(slot.name)) {
      throw Error(folder.string() + ": no tensor '" + slot.name +
                  "' (online merging needs a model of the trained model's architecture)");
    }
    const at::Tensor tensor = reader.tensor(slot.name);
    if (tensor.sizes() != at::IntArrayRef(slot.shape)) {
      throw Error(folder.string() + ": tensor '" + slot.name + "' has shape " + c10::str(tensor.sizes()) +
                  ", the trained model's has " + c10::str(at::IntArrayRef(slot.shape)));
    }
    flat.narrow(0, slot.offset, slot.numel).copy_(tensor.reshape({-1}));
  }
}

}  // namespace

OnlineMergingOptimizer::OnlineMergingOptimizer(std::unique_ptr<Optimizer> inner, FlatParameters& parameters,
                                               const at::Tensor& reference_task_vector,
                                               merge::OnlineMergeOptions options, std::int64_t merge_every,
                                               std::uint64_t seed)
    : Optimizer(checked(inner).config(), parameters, inner->decay_numel()),
      inner_(std::move(inner)),
      options_(options),
      merge_every_(merge_every),
      seed_(seed) {
  merge::validate(options_);
  if (merge_every_ < 1) throw Error("online merging: merge_every must be ≥ 1, got " + std::to_string(merge_every_));
  const at::Tensor& tau = reference_task_vector;
  if (!tau.defined() || tau.dim() != 1 || tau.numel() != values_.numel() || tau.scalar_type() != values_.scalar_type()) {
    throw Error("online merging: the reference task vector must be a flat " +
                std::string(c10::toString(values_.scalar_type())) + " tensor of " + std::to_string(values_.numel()) +
                " elements (the trainable parameters)");
  }
  reference_norm_ = tau.norm().item<double>();
  reference_ = at::empty_like(tau);
  const std::vector<FlatParameterSlot>& slots = parameters_.groups().front().slots;
  for (std::size_t k = 0; k < slots.size(); ++k) {
    const FlatParameterSlot& slot = slots[k];
    reference_.narrow(0, slot.offset, slot.numel)
        .copy_(merge::sparsify_reference(tau.narrow(0, slot.offset, slot.numel).view(slot.shape), options_,
                                         step_seed(0, k))
                   .reshape({-1}));
  }
  update_ = at::empty_like(values_);
  if (merge_every_ > 1) accumulated_ = new_buffer();
  learning_rate_ = inner_->learning_rate();
  steps_ = inner_->steps();
}

std::uint64_t OnlineMergingOptimizer::step_seed(std::int64_t step, std::size_t slot) const {
  return splitmix64(splitmix64(seed_ ^ splitmix64(static_cast<std::uint64_t>(step))) + slot);
}

std::vector<std::pair<std::string, at::Tensor>> OnlineMergingOptimizer::buffers() const {
  if (!accumulated_.defined()) return {};
  return {{"online_merging_accumulated_update", accumulated_}};
}

NamedTensors OnlineMergingOptimizer::state_tensors() const {
  NamedTensors tensors = inner_->state_tensors();
  for (auto& [name, tensor] : Optimizer::state_tensors()) tensors.insert(name, tensor);
  return tensors;
}

void OnlineMergingOptimizer::step() {
  at::NoGradGuard no_grad;
  inner_->set_learning_rate(learning_rate_);
  update_.copy_(values_);
  inner_->step();
  steps_ = inner_->steps();
  at::sub_out(update_, values_, update_);  // Δ = θ_after − θ_before
  if (merge_every_ == 1) return apply_merge();
  accumulated_.add_(update_);
  if (steps_ % merge_every_ != 0) return;
  update_.copy_(accumulated_);  // D: the updates of the last merge_every steps
  accumulated_.zero_();
  apply_merge();
}

void OnlineMergingOptimizer::apply_merge() {
  const std::vector<FlatParameterSlot>& slots = parameters_.groups().front().slots;
  for (std::size_t k = 0; k < slots.size(); ++k) {
    const FlatParameterSlot& slot = slots[k];
    const at::Tensor update = update_.narrow(0, slot.offset, slot.numel).view(slot.shape);
    const at::Tensor reference = reference_.narrow(0, slot.offset, slot.numel).view(slot.shape);
    // θ + (M − D): exactly θ when M = D (see the header). M may be `update` itself.
    const at::Tensor correction = merge::merge_update(update, reference, options_, step_seed(steps_, k)) - update;
    values_.narrow(0, slot.offset, slot.numel).add_(correction.view({-1}));
  }
}

nlohmann::json OnlineMergingOptimizer::merge_json() const {
  return {{"operator", merge::online_merge_operator_name(options_.op)},
          {"density", options_.density},
          {"reference_weight", options_.reference_weight},
          {"rescale", options_.rescale},
          {"clip", options_.clip},
          {"sign_election", merge::online_sign_election_name(options_.election)},
          {"merge_every", merge_every_},
          {"seed", seed_},
          {"reference_norm", reference_norm_}};
}

nlohmann::json OnlineMergingOptimizer::state_json() const {
  nlohmann::json json = inner_->state_json();
  // The rate set on this wrapper after the last step (the inner optimizer gets it at the next step).
  json["learning_rate"] = learning_rate_;
  json["online_merging"] = merge_json();
  return json;
}

void OnlineMergingOptimizer::load_state(const NamedTensors& tensors, const nlohmann::json& json) {
  if (!json.contains("online_merging")) {
    throw Error("optimizer state: the checkpoint was written without online merging, this run merges online");
  }
  nlohmann::json saved = json.at("online_merging");
  const nlohmann::json expected = merge_json();
  // ‖τ_ref‖₂ is summed in parallel: compare it to a relative 1e-6, everything else exactly.
  const double saved_norm = saved.at("reference_norm").get<double>();
  if (std::abs(saved_norm - reference_norm_) > 1e-6 * std::max(1.0, std::abs(reference_norm_))) {
    throw Error("optimizer state: the checkpoint's reference task vector has norm " + std::to_string(saved_norm) +
                ", this run's has " + std::to_string(reference_norm_) +
                " (online_merging.reference_model or base_model changed)");
  }
  saved["reference_norm"] = reference_norm_;
  if (saved != expected) {
    throw Error("optimizer state: the checkpoint merged online with " + saved.dump() + ", this run with " +
                expected.dump() + " (resuming exactly needs the same)");
  }
  // The accumulated update is ours; every other tensor is the inner optimizer's.
  NamedTensors inner_tensors;
  const NamedTensors own = Optimizer::state_tensors();
  for (const auto& [name, tensor] : tensors) {
    if (!own.contains(name)) inner_tensors.insert(name, tensor);
  }
  copy_saved_tensors(tensors, own);
  nlohmann::json inner_json = json;
  inner_json.erase("online_merging");
  inner_->load_state(inner_tensors, inner_json);
  steps_ = inner_->steps();
  learning_rate_ = inner_->learning_rate();
}

at::Tensor reference_task_vector(const FlatParameters& parameters, const std::filesystem::path& reference_model,
                                 const std::filesystem::path& base_model) {
  if (parameters.groups().size() != 1) throw Error("online merging: the parameters must form one flat group");
  const FlatParameterGroup& group = parameters.groups().front();
  at::NoGradGuard no_grad;
  at::Tensor base = group.values.detach().clone();
  if (!base_model.empty()) read_flat(group, base_model, base);
  at::Tensor reference = at::empty_like(base);
  read_flat(group, reference_model, reference);
  return reference.sub_(base);
}

std::unique_ptr<Optimizer> with_online_merging(std::unique_ptr<Optimizer> optimizer, FlatParameters& parameters,
                                               const OnlineMergingConfig& config) {
  if (!config.enabled()) return optimizer;
  const merge::OnlineMergeOptions& options = config;
  const at::Tensor reference = reference_task_vector(parameters, config.reference_model, config.base_model);
  LADLE_LOG(info) << "online merging: " << merge::online_merge_operator_name(config.op) << ", density " << config.density << ", reference weight "
                  << config.reference_weight << ", merge every " << config.merge_every << " step(s), |tau_ref| "
                  << reference.norm().item<double>() << " (" << config.reference_model.string() << ")";
  return std::make_unique<OnlineMergingOptimizer>(std::move(optimizer), parameters, reference, options,
                                                  config.merge_every, config.seed);
}

}  // namespace ladle::trainer
