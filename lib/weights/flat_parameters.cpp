#include "lib/weights/flat_parameters.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <sstream>
#include <unordered_set>

#include "lib/util/error.h"
#include "lib/weights/named_tensor_ops.h"

namespace ladle {
namespace {

std::vector<std::pair<std::string, at::Tensor>> module_parameters(torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    parameters.emplace_back(item.key(), item.value());
  }
  return parameters;
}

// True when `tensor` is exactly `view`: same memory, shape and strides.
bool is_same_view(const at::Tensor& tensor, const at::Tensor& view) {
  return tensor.defined() && tensor.data_ptr() == view.data_ptr() && tensor.sizes().equals(view.sizes()) &&
         tensor.strides().equals(view.strides()) && tensor.scalar_type() == view.scalar_type();
}

}  // namespace

FlatParameters::FlatParameters(torch::nn::Module& module, const FlatParametersOptions& options)
    : FlatParameters(module_parameters(module), options) {}

FlatParameters::FlatParameters(const std::vector<std::pair<std::string, at::Tensor>>& named_parameters,
                               const FlatParametersOptions& options)
    : options_(options) {
  // Plan: assign each parameter a group and an offset.
  std::unordered_set<const c10::TensorImpl*> seen;
  std::size_t frozen_skipped = 0;
  for (const auto& [name, parameter] : named_parameters) {
    if (!parameter.defined()) throw Error("FlatParameters: parameter '" + name + "' is undefined");
    if (parameter.layout() != at::kStrided) {
      throw Error("FlatParameters: parameter '" + name + "' is not a dense (strided) tensor");
    }
    if (!at::isFloatingType(parameter.scalar_type())) {
      throw Error("FlatParameters: parameter '" + name + "' has dtype " + c10::toString(parameter.scalar_type()) +
                  ", expected a floating-point dtype");
    }
    if (index_.count(name) != 0) throw Error("FlatParameters: parameter name '" + name + "' appears twice");
    if (!parameter.requires_grad() && !options_.include_frozen) {
      ++frozen_skipped;
      continue;
    }
    if (!seen.insert(parameter.unsafeGetTensorImpl()).second) continue;  // tied: flattened under its first name

    std::size_t group = 0;
    while (group < groups_.size() &&
           (groups_[group].dtype != parameter.scalar_type() || groups_[group].device != parameter.device())) {
      ++group;
    }
    if (group == groups_.size()) {
      groups_.push_back(FlatParameterGroup{parameter.scalar_type(), parameter.device(), {}, {}, {}});
    }
    auto& slots = groups_[group].slots;
    const std::int64_t offset = slots.empty() ? 0 : slots.back().offset + slots.back().numel;
    slots.push_back(FlatParameterSlot{name, offset, parameter.numel(), parameter.sizes().vec()});
    index_.emplace(name, bindings_.size());
    names_.push_back(name);
    bindings_.push_back(Binding{parameter, group, slots.size() - 1});
  }
  if (bindings_.empty()) {
    throw Error("FlatParameters: no parameters to flatten (" + std::to_string(frozen_skipped) +
                " frozen parameters excluded; set include_frozen to flatten them)");
  }

  // Allocate the buffers, copy the current values (and gradients) in, then rebind.
  at::NoGradGuard no_grad;
  for (auto& group : groups_) {
    const std::int64_t total = group.slots.back().offset + group.slots.back().numel;
    const auto tensor_options = at::TensorOptions().dtype(group.dtype).device(group.device);
    group.values = at::empty({total}, tensor_options);
    if (options_.flatten_gradients) group.gradients = at::zeros({total}, tensor_options);
  }
  for (auto& binding : bindings_) {
    const FlatParameterGroup& group = groups_[binding.group];
    const FlatParameterSlot& slot = group.slots[binding.slot];
    at::Tensor view = slot_view(group.values, slot);
    view.copy_(binding.parameter.detach());
    binding.parameter.set_data(view);
    if (options_.flatten_gradients && binding.parameter.requires_grad()) {
      at::Tensor gradient = gradient_view(binding);
      const at::Tensor& existing = binding.parameter.grad();
      if (existing.defined()) gradient.copy_(existing);
      binding.parameter.mutable_grad() = gradient;
    }
  }
}

std::int64_t FlatParameters::numel() const {
  std::int64_t total = 0;
  for (const auto& group : groups_) total += group.values.numel();
  return total;
}

at::Tensor FlatParameters::slot_view(const at::Tensor& buffer, const FlatParameterSlot& slot) const {
  // detach(): a plain alias without autograd view metadata, so optimizers may detach_() it in place.
  return buffer.narrow(0, slot.offset, slot.numel).view(slot.shape).detach();
}

at::Tensor FlatParameters::gradient_view(const Binding& binding) const {
  const FlatParameterGroup& group = groups_[binding.group];
  return slot_view(group.gradients, group.slots[binding.slot]);
}

at::Tensor FlatParameters::view_of(const std::string& name) const {
  const auto found = index_.find(name);
  if (found == index_.end()) throw Error("FlatParameters: no flattened parameter named '" + name + "'");
  const Binding& binding = bindings_[found->second];
  const FlatParameterGroup& group = groups_[binding.group];
  return slot_view(group.values, group.slots[binding.slot]);
}

NamedTensors FlatParameters::views() const {
  NamedTensors result;
  for (const auto& name : names_) result.insert(name, view_of(name));
  return result;
}

NamedTensors FlatParameters::snapshot() const {
  at::NoGradGuard no_grad;
  NamedTensors result;
  for (const auto& name : names_) result.insert(name, view_of(name).clone());
  return result;
}

void FlatParameters::copy_from(const NamedTensors& values) {
  const NamedTensors targets = views();
  require_same_layout(targets, values, "the flattened parameters", "the values to copy");
  at::NoGradGuard no_grad;
  for (const auto& [name, target] : targets) {
    const at::Tensor& source = values.at(name);
    if (!at::isFloatingType(source.scalar_type())) {
      throw Error("FlatParameters::copy_from: tensor '" + name + "' has dtype " + c10::toString(source.scalar_type()) +
                  ", expected a floating-point dtype");
    }
    target.copy_(source);
  }
  bump_versions();
}

void FlatParameters::copy_from_flat(const std::vector<at::Tensor>& flat_values) {
  if (flat_values.size() != groups_.size()) {
    throw Error("FlatParameters::copy_from_flat: " + std::to_string(flat_values.size()) +
                " flat tensors given, expected one per group (" + std::to_string(groups_.size()) + ")");
  }
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    const at::Tensor& source = flat_values[i];
    const std::string which = "FlatParameters::copy_from_flat: flat tensor " + std::to_string(i);
    if (!source.defined()) throw Error(which + " is undefined");
    if (source.dim() != 1 || source.numel() != groups_[i].values.numel()) {
      std::ostringstream shape;
      shape << source.sizes();
      throw Error(which + " has shape " + shape.str() + ", expected [" + std::to_string(groups_[i].values.numel()) +
                  "] (the group's " + c10::toString(groups_[i].dtype) + " parameters on " + groups_[i].device.str() +
                  ")");
    }
    if (!at::isFloatingType(source.scalar_type())) {
      throw Error(which + " has dtype " + c10::toString(source.scalar_type()) + ", expected a floating-point dtype");
    }
  }
  at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < groups_.size(); ++i) groups_[i].values.copy_(flat_values[i]);
  bump_versions();
}

void FlatParameters::zero_grad() {
  at::NoGradGuard no_grad;
  if (!options_.flatten_gradients) {
    for (auto& binding : bindings_) {
      at::Tensor& gradient = binding.parameter.mutable_grad();
      if (gradient.defined()) gradient.zero_();
    }
    return;
  }
  for (auto& binding : bindings_) {
    if (!binding.parameter.requires_grad()) continue;
    at::Tensor view = gradient_view(binding);
    if (!is_same_view(binding.parameter.grad(), view)) binding.parameter.mutable_grad() = view;
  }
  for (auto& group : groups_) group.gradients.zero_();
}

bool FlatParameters::parameters_bound() const {
  for (const auto& binding : bindings_) {
    const FlatParameterGroup& group = groups_[binding.group];
    if (!is_same_view(binding.parameter, slot_view(group.values, group.slots[binding.slot]))) return false;
  }
  return true;
}

bool FlatParameters::gradients_bound() const {
  if (!options_.flatten_gradients) return true;
  for (const auto& binding : bindings_) {
    if (binding.parameter.requires_grad() && !is_same_view(binding.parameter.grad(), gradient_view(binding))) {
      return false;
    }
  }
  return true;
}

void FlatParameters::bump_versions() {
  for (auto& binding : bindings_) binding.parameter.unsafeGetTensorImpl()->bump_version();
}

}  // namespace ladle
