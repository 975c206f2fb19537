// The `device:` key of the train, dtm, evolve and merge configs (and the --device option of the commands that take
// no config): where models, batches, averages and merge tensors live. Its values:
//   cpu      the CPU (every config's default: a run is where it was, whatever the machine)
//   cuda     the current CUDA device; cuda:N the N-th (N from 0, as torch numbers them)
//   auto     cuda when this libtorch sees a GPU (torch::cuda::is_available()), else cpu
// The name is checked when the config is read; which device it means on this machine is decided when the run starts
// (model::resolve_device, lib/model/device.h), where cuda on a machine without CUDA is an error.
#pragma once

#include <string>

#include "lib/config/schema.h"

namespace ladle::config {

// What every device key and option says about itself in the key reference and --help.
inline constexpr const char* kDeviceHelp =
    "where the model, batches and merge tensors live: cpu, cuda, cuda:N (the N-th GPU) or auto (cuda when a GPU "
    "is available, else cpu)";

// Whether `name` is one of the values above.
bool is_device_name(const std::string& name);

// "expected cpu, cuda, cuda:N or auto, got '<name>'", for messages about a bad name.
std::string device_name_expected(const std::string& name);

// A device key for Schema::custom: a string that is_device_name accepts, kept as written.
CustomValue<std::string> device_value();

}  // namespace ladle::config
