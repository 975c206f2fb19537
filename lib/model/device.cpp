#include "lib/model/device.h"

#include <torch/cuda.h>

#include "lib/config/device_value.h"
#include "lib/util/error.h"

namespace ladle::model {

std::string device_problem(const std::string& name) {
  if (!config::is_device_name(name)) return config::device_name_expected(name);
  if (name == "cpu" || name == "auto") return "";
  if (!torch::cuda::is_available()) return name + ": this libtorch has no CUDA (torch::cuda::is_available() is false)";
  const c10::Device device(name);
  const auto count = static_cast<c10::DeviceIndex>(torch::cuda::device_count());
  if (device.has_index() && device.index() >= count) {
    return name + ": there are " + std::to_string(count) + " CUDA devices (cuda:0 to cuda:" +
           std::to_string(count - 1) + ")";
  }
  return "";
}

c10::Device resolve_device(const std::string& name, const std::string& what) {
  const std::string problem = device_problem(name);
  if (!problem.empty()) throw Error(what + ": " + problem);
  if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA) : c10::Device(c10::kCPU);
  return c10::Device(name);
}

}  // namespace ladle::model
