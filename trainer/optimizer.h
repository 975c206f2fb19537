// Optimizers over a model's flat parameter buffer (lib/weights/flat_parameters.h): AdamW and SGD with
// momentum, each update a handful of vectorised passes over the whole buffer instead of a loop over tensors.
//
// The arithmetic is torch.optim's, operation for operation (torch/optim/adamw.py _single_tensor_adamw and
// sgd.py _single_tensor_sgd, 1.13, with foreach off as on CPU): every element sees the same sequence of
// roundings as in torch.optim, so the two agree to the last bit up to how a vectorised kernel treats the element
// (tested to 1e-6). The operations run chunk by chunk (kChunk elements, a few arrays of which fit in a core's L2
// cache) and chunks in parallel, so an update streams the buffers from memory about once instead of once per
// operation: 2-3x faster than whole-buffer operations on a few million parameters.
//
// Weight decay applies to the first decay_numel elements of the buffer: build the FlatParameters with the
// tensors to decay first (see weight_decay_partition).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "lib/weights/named_tensors.h"
#include "trainer/train_config.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace ladle {
class FlatParameters;
}  // namespace ladle

namespace ladle::trainer {

// The trainable parameters of `module` (requires_grad), split by the rule OptimizerConfig describes: tensors
// with 2 or more dimensions decay (those of an Embedding module only when decay_embeddings), 1-D tensors
// (norm weights, biases) do not. Each list keeps the module's parameter order; a tensor shared under two names
// appears once, under its first name.
struct WeightDecayPartition {
  std::vector<std::pair<std::string, at::Tensor>> decay;
  std::vector<std::pair<std::string, at::Tensor>> no_decay;
};
WeightDecayPartition weight_decay_partition(const torch::nn::Module& module, bool decay_embeddings);

class Optimizer {
 public:
  // `parameters` must hold one group (fp32 or fp64, one device) with flat gradients; it must outlive the
  // optimizer. Throws ladle::Error otherwise or when decay_numel exceeds the buffer.
  Optimizer(const OptimizerConfig& config, FlatParameters& parameters, std::int64_t decay_numel);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update from the current gradients (the flat gradient buffer), with learning_rate().
  virtual void step() = 0;

  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double learning_rate) { learning_rate_ = learning_rate; }
  // Updates made so far (AdamW's bias correction uses it).
  std::int64_t steps() const { return steps_; }
  const OptimizerConfig& config() const { return config_; }
  std::int64_t decay_numel() const { return decay_numel_; }

  // The optimizer's state for a checkpoint: per-parameter views of its buffers named "<buffer>.<parameter>"
  // ("exp_avg.model.norm.weight"), and {"name", "steps", "learning_rate", ...} as JSON.
  // Virtual so that a wrapper (online_merging_optimizer.h) can add to them.
  virtual NamedTensors state_tensors() const;
  virtual nlohmann::json state_json() const;
  // Restores exactly what the two above returned (bit for bit). Throws ladle::Error when the optimizer kind
  // differs or a tensor is missing, unexpected or mis-shaped.
  virtual void load_state(const NamedTensors& tensors, const nlohmann::json& json);

 protected:
  static constexpr std::int64_t kChunk = 1 << 15;

  // A zeroed state buffer with the layout of the parameter buffer.
  at::Tensor new_buffer() const;
  // Copies every tensor of `targets` from the tensor of the same name in `saved`. Throws ladle::Error naming one
  // that is missing or has another shape or dtype.
  static void copy_saved_tensors(const NamedTensors& saved, const NamedTensors& targets);
  // Calls update(start, length) for consecutive chunks of the flat buffers, chunks spread over threads, with
  // autograd off.
  void for_each_chunk(const std::function<void(std::int64_t, std::int64_t)>& update) const;
  // The flat state buffers by name ("exp_avg", ...), sharing storage with the optimizer's, for checkpoints.
  virtual std::vector<std::pair<std::string, at::Tensor>> buffers() const = 0;
  virtual nlohmann::json extra_state() const { return nlohmann::json::object(); }
  virtual void load_extra_state(const nlohmann::json& /*json*/) {}

  OptimizerConfig config_;
  FlatParameters& parameters_;
  std::int64_t decay_numel_;
  at::Tensor values_;     // the flat parameter buffer
  at::Tensor gradients_;  // the flat gradient buffer
  double learning_rate_ = 0;
  std::int64_t steps_ = 0;
};

// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019), as torch.optim.AdamW:
//   θ ← θ·(1 − lr·λ) (decaying part only); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
//   θ ← θ − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε).
class AdamW final : public Optimizer {
 public:
  AdamW(const OptimizerConfig& config, FlatParameters& parameters, std::int64_t decay_numel);
  void step() override;

 private:
  std::vector<std::pair<std::string, at::Tensor>> buffers() const override;
  at::Tensor exp_avg_, exp_avg_sq_;
};

// SGD with momentum μ and L2 weight decay λ, as torch.optim.SGD (dampening 0):
//   d ← g + λθ (decaying part only); b ← d on the first step, else μb + d; d ← d + μb (Nesterov) or b;
//   θ ← θ − lr·d. Without momentum there is no buffer.
class Sgd final : public Optimizer {
 public:
  Sgd(const OptimizerConfig& config, FlatParameters& parameters, std::int64_t decay_numel);
  void step() override;

 private:
  std::vector<std::pair<std::string, at::Tensor>> buffers() const override;
  nlohmann::json extra_state() const override { return {{"momentum_initialized", momentum_initialized_}}; }
  void load_extra_state(const nlohmann::json& json) override;
  at::Tensor momentum_buffer_;
  bool momentum_initialized_ = false;
};

// The optimizer config.name names.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, FlatParameters& parameters,
                                          std::int64_t decay_numel);

}  // namespace ladle::trainer
