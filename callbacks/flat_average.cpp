#include "callbacks/flat_average.h"

#include <ATen/ATen.h>

#include "lib/util/error.h"
#include "lib/util/shape_text.h"

namespace ladle::callbacks {
namespace {

// The tensor under `name`, checked to have `shape`.
const at::Tensor& required_tensor(const NamedTensors& tensors, const std::string& name, at::IntArrayRef shape,
                                  const std::string& owner) {
  if (!tensors.contains(name)) throw Error(owner + ": the state has no tensor '" + name + "'");
  const at::Tensor& tensor = tensors.at(name);
  if (!tensor.sizes().equals(shape)) {
    throw Error(owner + ": tensor '" + name + "' has shape " + shape_text(tensor.sizes()) + ", expected " +
                shape_text(shape) + " (was the state written for another model?)");
  }
  return tensor;
}

}  // namespace

FlatLayout layout_of(const FlatParameters& live) {
  FlatLayout layout = live.groups();
  for (auto& group : layout) {
    group.values = at::Tensor();
    group.gradients = at::Tensor();
  }
  return layout;
}

at::ScalarType average_dtype(at::ScalarType live_dtype) { return live_dtype == at::kDouble ? at::kDouble : at::kFloat; }

std::vector<at::Tensor> empty_flat_like(const FlatParameters& live, bool accumulate, std::optional<at::Device> device) {
  std::vector<at::Tensor> flat;
  for (const auto& group : live.groups()) {
    const at::ScalarType dtype = accumulate ? average_dtype(group.dtype) : group.dtype;
    flat.push_back(
        at::empty({group.values.numel()}, at::TensorOptions().dtype(dtype).device(device.value_or(group.device))));
  }
  return flat;
}

std::vector<at::Tensor> live_flat_values(const FlatParameters& live) {
  std::vector<at::Tensor> values;
  for (const auto& group : live.groups()) values.push_back(group.values);
  return values;
}

std::vector<at::Tensor> copy_live_values(const FlatParameters& live, std::optional<at::Device> device) {
  std::vector<at::Tensor> flat = empty_flat_like(live, /*accumulate=*/false, device);
  copy_live_values_into(live, flat);
  return flat;
}

void copy_live_values_into(const FlatParameters& live, const std::vector<at::Tensor>& destination) {
  at::NoGradGuard no_grad;
  for (std::size_t g = 0; g < live.groups().size(); ++g) destination[g].copy_(live.groups()[g].values);
}

NamedTensors named_flat_views(const FlatLayout& layout, const std::vector<at::Tensor>& flat,
                              const std::string& prefix) {
  NamedTensors views;
  for (std::size_t g = 0; g < layout.size(); ++g) {
    for (const auto& slot : layout[g].slots) {
      views.insert(prefix + slot.name, flat[g].narrow(0, slot.offset, slot.numel).view(slot.shape));
    }
  }
  return views;
}

void load_named_flat(const FlatLayout& layout, const std::vector<at::Tensor>& flat, const NamedTensors& tensors,
                     const std::string& prefix, const std::string& owner) {
  // Check everything before writing anything, so a failed load leaves the average as it was.
  for (const auto& group : layout) {
    for (const auto& slot : group.slots) required_tensor(tensors, prefix + slot.name, slot.shape, owner);
  }
  at::NoGradGuard no_grad;
  const NamedTensors views = named_flat_views(layout, flat, "");
  for (const auto& [name, view] : views) view.copy_(tensors.at(prefix + name));
}

NamedTensors make_buffer_storage(const NamedTensors& live_buffers, std::optional<at::Device> device) {
  at::NoGradGuard no_grad;
  NamedTensors storage;
  for (const auto& [name, buffer] : live_buffers) {
    const at::Device where = device.value_or(buffer.device());
    if (at::isFloatingType(buffer.scalar_type())) {
      storage.insert(
          name, at::zeros(buffer.sizes(), buffer.options().dtype(average_dtype(buffer.scalar_type())).device(where)));
    } else {
      storage.insert(name, buffer.to(where, buffer.scalar_type(), /*non_blocking=*/false, /*copy=*/true));
    }
  }
  return storage;
}

void copy_buffers(NamedTensors& storage, const NamedTensors& live_buffers) {
  at::NoGradGuard no_grad;
  for (auto& [name, stored] : storage) stored.copy_(live_buffers.at(name));
}

NamedTensors prefixed(const NamedTensors& tensors, const std::string& prefix) {
  NamedTensors result;
  for (const auto& [name, tensor] : tensors) result.insert(prefix + name, tensor);
  return result;
}

void load_prefixed(NamedTensors& storage, const NamedTensors& tensors, const std::string& prefix,
                   const std::string& owner) {
  for (const auto& [name, stored] : storage) required_tensor(tensors, prefix + name, stored.sizes(), owner);
  at::NoGradGuard no_grad;
  for (auto& [name, stored] : storage) stored.copy_(tensors.at(prefix + name));
}

}  // namespace ladle::callbacks
