// resolve_device: the device a `device:` key or --device option names (lib/config/device_value.h) on this machine.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace ladle::model {

// What is wrong with running on `name` here, or "" when nothing is: not a device name, cuda when this libtorch has
// no CUDA ("cuda: this libtorch has no CUDA (torch::cuda::is_available() is false)"), or cuda:N past the last GPU.
std::string device_problem(const std::string& name);

// cpu, cuda or cuda:N as named; auto is cuda when torch::cuda::is_available(), else cpu. Throws ladle::Error
// "<what>: <device_problem>" (what: the key or option, "device" or "--device").
c10::Device resolve_device(const std::string& name, const std::string& what = "device");

}  // namespace ladle::model
