// The storage side of the weight averages: flat tensors laid out like a FlatParameters' groups (the average, a
// staging copy, a LAWA snapshot), their named views for checkpoint state, and the buffers' counterpart.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "lib/weights/flat_parameters.h"
#include "lib/weights/named_tensors.h"

namespace ladle::callbacks {

// The layout of a FlatParameters' groups (dtype, device, slots; the values and gradients tensors left undefined):
// what an average needs to name and round its flat tensors once the live parameters are gone.
using FlatLayout = std::vector<FlatParameterGroup>;
FlatLayout layout_of(const FlatParameters& live);

// The dtype an average of this group is kept in: fp64 for fp64 groups, else fp32.
at::ScalarType average_dtype(at::ScalarType live_dtype);

// One uninitialised flat tensor per group of `live` with the group's numel, in the group's average_dtype
// (`accumulate`) or its own dtype, on `device` (the group's device when nullopt).
std::vector<at::Tensor> empty_flat_like(const FlatParameters& live, bool accumulate,
                                        std::optional<at::Device> device = std::nullopt);

// The live groups' values tensors (aliases, not copies), in groups() order.
std::vector<at::Tensor> live_flat_values(const FlatParameters& live);

// Copies of the live groups' current values (exact, in their own dtype), on `device` (the group's when nullopt).
std::vector<at::Tensor> copy_live_values(const FlatParameters& live, std::optional<at::Device> device = std::nullopt);

// Copies each group's current live values into `destination` (same layout, any dtype and device).
void copy_live_values_into(const FlatParameters& live, const std::vector<at::Tensor>& destination);

// prefix + parameter name -> view of that parameter's slot in flat[group], shaped like the parameter, in
// parameter order. The views alias `flat`.
NamedTensors named_flat_views(const FlatLayout& layout, const std::vector<at::Tensor>& flat, const std::string& prefix);

// Copies tensors[prefix + name] into each parameter's slot of `flat` (converting dtype and device). Every parameter
// must be present with its shape; throws ladle::Error starting with `owner` and naming the first missing or
// mis-shaped tensor otherwise. Tensors with other prefixes are ignored.
void load_named_flat(const FlatLayout& layout, const std::vector<at::Tensor>& flat, const NamedTensors& tensors,
                     const std::string& prefix, const std::string& owner);

// Storage for the averaged buffers: a zero tensor in average_dtype for each floating-point buffer, a copy of the
// current value for every other one, on `device` (each buffer's own when nullopt).
NamedTensors make_buffer_storage(const NamedTensors& live_buffers, std::optional<at::Device> device = std::nullopt);

// Copies every live buffer into its storage entry (the BufferMode::copy update, and every first update).
void copy_buffers(NamedTensors& storage, const NamedTensors& live_buffers);

// prefix + name for every entry (the tensors alias `buffers`).
NamedTensors prefixed(const NamedTensors& tensors, const std::string& prefix);

// Copies tensors[prefix + name] into every entry of `storage`; throws ladle::Error starting with `owner` and
// naming the first missing or mis-shaped buffer.
void load_prefixed(NamedTensors& storage, const NamedTensors& tensors, const std::string& prefix,
                   const std::string& owner);

}  // namespace ladle::callbacks
