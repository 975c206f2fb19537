#include "lib/weights/nonfinite_values.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "lib/util/error.h"

namespace ladle {
namespace {

constexpr std::int64_t kBlockEntries = 1 << 20;  // a 1 MiB boolean temporary per block

}  // namespace

std::int64_t count_nonfinite(const at::Tensor& tensor) {
  if (!at::isFloatingType(tensor.scalar_type()) || tensor.numel() == 0) return 0;
  const at::Tensor flat = tensor.reshape({-1});
  const std::int64_t entries = flat.numel();
  std::int64_t count = 0;
  for (std::int64_t first = 0; first < entries; first += kBlockEntries) {
    const at::Tensor block = flat.narrow(0, first, std::min(kBlockEntries, entries - first));
    count += block.numel() - at::isfinite(block).sum().item<std::int64_t>();
  }
  return count;
}

void require_finite(const at::Tensor& tensor, const std::string& model, const std::string& name) {
  const std::int64_t count = count_nonfinite(tensor);
  if (count == 0) return;
  throw Error(model + ": tensor '" + name + "' has " + std::to_string(count) + " NaN or infinite value" +
              (count == 1 ? "" : "s") + " (of " + std::to_string(tensor.numel()) +
              "); the result would hold them too. Use another checkpoint of the model, or pass --allow-nonfinite to "
              "keep them");
}

void require_finite(const NamedTensors& tensors, const std::string& model) {
  for (const auto& [name, tensor] : tensors) require_finite(tensor, model, name);
}

}  // namespace ladle
