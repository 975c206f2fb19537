// update_bn: recomputes the BatchNorm running statistics of a model whose weights were averaged (SWA), as
// torch.optim.swa_utils.update_bn does: the averaged weights never produced the statistics the BatchNorm layers
// hold, so one pass over the training data recomputes them.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <functional>
#include <vector>

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace ladle::callbacks {

// For every BatchNorm1d/2d/3d module with running statistics: running_mean ← 0, running_var ← 1,
// num_batches_tracked ← 0 and momentum ← none (a cumulative average over the pass); then, with the model in
// training mode and gradients off, runs `forward_pass` (which should feed the model every batch of the training
// data once); then restores each momentum and the model's training mode. Returns the number of BatchNorm modules
// updated; when it is 0 nothing is done and `forward_pass` is not called (our causal LMs have no BatchNorm).
std::size_t update_bn(torch::nn::Module& model, const std::function<void()>& forward_pass);

// The same with the pass spelled out: forward(batch) for each batch, in order (Python's update_bn(loader, model)).
std::size_t update_bn(torch::nn::Module& model, const std::vector<at::Tensor>& batches,
                      const std::function<void(const at::Tensor&)>& forward);

}  // namespace ladle::callbacks
