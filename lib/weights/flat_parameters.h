// FlatParameters: a module's parameters rebound as views into one contiguous buffer per (dtype, device), so
// averaging kernels (ema_update_, running_mean_update_) update a whole model in one pass over memory.
//
// Construction copies each parameter's current value into its group's buffer and rebinds the parameter to its
// view with Tensor::set_data. The parameter keeps its identity (same TensorImpl, autograd metadata and
// requires_grad), so optimizers created before or after keep working: their in-place steps write straight into
// the buffer. With flatten_gradients, each trainable parameter's .grad becomes a view into a zeroed gradient
// buffer of the same layout, and backward accumulates into it in place (AccumulateGrad adds into an existing
// .grad when create_graph is false).
//
// What breaks the binding, and what restores it:
//   - libtorch 1.13's Optimizer::zero_grad() calls detach_() and zero_() on each .grad, and Module::zero_grad()
//     zeroes each .grad where it lies: both keep the views (tested). The gradient views are plain aliases, not
//     autograd views, which detach_() rejects (as it rejects DDP's gradient_as_bucket_view).
//     Module::zero_grad(/*set_to_none=*/true) drops .grad, and the next backward allocates a fresh one outside the
//     buffer. FlatParameters::zero_grad() re-binds every gradient and zeroes each buffer in one pass; use it (or
//     check gradients_bound()) in a training loop that reads the flat gradients.
//   - Moving or casting the module (Module::to) or calling set_data on a parameter rebinds it elsewhere; nothing
//     restores that (parameters_bound() reports it). Build a new FlatParameters after moving a module.
// Writes through copy_from / copy_from_flat are recorded in the parameters' version counters, so a backward through
// a graph that saved the old values fails loudly; direct writes into groups()[i].values are not, so make them
// only when no backward is pending (e.g. after the optimizer step), as for any in-place change of parameters.
// Parameters become contiguous (a transposed parameter gets contiguous strides); shapes are unchanged.
// Parameters shared under several names (tied weights) are flattened once, under their first name.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lib/weights/named_tensors.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace ladle {

struct FlatParametersOptions {
  bool flatten_gradients = true;  // also make each trainable parameter's .grad a view into a flat gradient buffer
  bool include_frozen = false;    // also flatten parameters with requires_grad = false
};

// Where one parameter lives inside its group's buffers.
struct FlatParameterSlot {
  std::string name;                 // the parameter's name, as Module::named_parameters reports it
  std::int64_t offset = 0;          // index of its first element in the group's flat buffers
  std::int64_t numel = 0;           // number of elements
  std::vector<std::int64_t> shape;  // its shape; the view is values[offset, offset + numel) reshaped to it
};

// All parameters of one dtype on one device.
struct FlatParameterGroup {
  at::ScalarType dtype;
  at::Device device;
  at::Tensor values;                     // [numel], contiguous: every parameter of the group is a view into it
  at::Tensor gradients;                  // [numel], contiguous, same layout; undefined without flatten_gradients
  std::vector<FlatParameterSlot> slots;  // in parameter order; they tile [0, numel) without gaps or overlaps
};

class FlatParameters {
 public:
  // Flattens module.named_parameters() (recursively), skipping frozen ones unless options.include_frozen.
  explicit FlatParameters(torch::nn::Module& module, const FlatParametersOptions& options = {});
  // Flattens the given parameter tensors (leaf tensors, e.g. from named_parameters) under the given names.
  explicit FlatParameters(const std::vector<std::pair<std::string, at::Tensor>>& named_parameters,
                          const FlatParametersOptions& options = {});

  // Groups in order of first appearance of their (dtype, device) in the parameter list.
  const std::vector<FlatParameterGroup>& groups() const { return groups_; }
  // Flattened parameter names in parameter order.
  const std::vector<std::string>& names() const { return names_; }
  // Total number of flattened elements over all groups.
  std::int64_t numel() const;

  // A view of the named parameter's slot in its group's values buffer (shape of the parameter; no autograd
  // history, aliasing the parameter). Throws ladle::Error for unknown names.
  at::Tensor view_of(const std::string& name) const;
  // Views of every parameter (aliasing the buffers), in parameter order.
  NamedTensors views() const;
  // Copies of every parameter's current value (not aliasing the buffers), in parameter order.
  NamedTensors snapshot() const;

  // Copies values into the parameters (converting dtype and device). The set must hold exactly the flattened
  // names with the same shapes; throws ladle::Error listing the differences otherwise.
  void copy_from(const NamedTensors& values);
  // Copies one flat tensor per group (in groups() order, each with the group's numel elements, any floating
  // dtype and device) into the groups' values buffers, e.g. to swap an averaged model in for evaluation.
  void copy_from_flat(const std::vector<at::Tensor>& flat_values);

  // With flatten_gradients: re-binds any trainable parameter's .grad that no longer views its slot, then zeroes
  // each gradient buffer in one pass. Without: zeroes every defined .grad in place.
  void zero_grad();

  // True while every parameter's data is still its view of the values buffer.
  bool parameters_bound() const;
  // True while every trainable parameter's .grad is its view of the gradient buffer (always true without
  // flatten_gradients).
  bool gradients_bound() const;

 private:
  struct Binding {
    at::Tensor parameter;  // shares its TensorImpl with the module's parameter
    std::size_t group = 0;
    std::size_t slot = 0;
  };

  at::Tensor slot_view(const at::Tensor& buffer, const FlatParameterSlot& slot) const;
  at::Tensor gradient_view(const Binding& binding) const;
  // Records an in-place change of every parameter for autograd's saved-tensor version checks.
  void bump_versions();

  FlatParametersOptions options_;
  std::vector<FlatParameterGroup> groups_;
  std::vector<std::string> names_;
  std::vector<Binding> bindings_;  // in parameter order, parallel to names_
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace ladle
