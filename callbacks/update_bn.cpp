#include "callbacks/update_bn.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>

#include <optional>

namespace ladle::callbacks {
namespace {

// A BatchNorm module's running statistics and momentum, whatever its dimensionality.
struct BatchNormStatistics {
  at::Tensor running_mean;
  at::Tensor running_var;
  at::Tensor num_batches_tracked;
  c10::optional<double>* momentum;  // the module's options().momentum, set to none during the pass
  c10::optional<double> saved_momentum;
};

template <typename BatchNorm>
bool collect(torch::nn::Module& module, std::vector<BatchNormStatistics>& found) {
  auto* batch_norm = dynamic_cast<BatchNorm*>(&module);
  if (batch_norm == nullptr) return false;
  // Without track_running_stats there is nothing to recompute (Python's update_bn would fail on the None buffers).
  if (batch_norm->running_mean.defined()) {
    found.push_back({batch_norm->running_mean, batch_norm->running_var, batch_norm->num_batches_tracked,
                     &batch_norm->options.momentum(), batch_norm->options.momentum()});
  }
  return true;
}

}  // namespace

std::size_t update_bn(torch::nn::Module& model, const std::function<void()>& forward_pass) {
  std::vector<BatchNormStatistics> found;
  for (const auto& module : model.modules(/*include_self=*/true)) {
    collect<torch::nn::BatchNorm1dImpl>(*module, found) || collect<torch::nn::BatchNorm2dImpl>(*module, found) ||
        collect<torch::nn::BatchNorm3dImpl>(*module, found);
  }
  if (found.empty()) return 0;

  at::NoGradGuard no_grad;
  for (auto& statistics : found) {
    // In place, so the buffers stay the module's registered tensors (Python rebinds fresh zeros/ones instead).
    statistics.running_mean.zero_();
    statistics.running_var.fill_(1);
    if (statistics.num_batches_tracked.defined()) statistics.num_batches_tracked.zero_();
    *statistics.momentum = c10::nullopt;
  }
  const bool was_training = model.is_training();
  model.train(true);
  // Restore momenta and mode even when the pass throws.
  struct Restore {
    std::vector<BatchNormStatistics>& found;
    torch::nn::Module& model;
    bool was_training;
    ~Restore() {
      for (auto& statistics : found) *statistics.momentum = statistics.saved_momentum;
      model.train(was_training);
    }
  } restore{found, model, was_training};
  forward_pass();
  return found.size();
}

std::size_t update_bn(torch::nn::Module& model, const std::vector<at::Tensor>& batches,
                      const std::function<void(const at::Tensor&)>& forward) {
  return update_bn(model, [&] {
    for (const at::Tensor& batch : batches) forward(batch);
  });
}

}  // namespace ladle::callbacks
