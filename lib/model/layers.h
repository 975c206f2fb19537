// The small building blocks of the model families besides Projection: a token/position embedding table and the
// two normalisations. Parameter names are those of the Hugging Face modules they mirror.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>

#include "lib/model/causal_lm_config.h"

namespace ladle::model {

// The MLP's activation function (silu, or GELU exact or with the tanh approximation that GPT-2's gelu_new is).
at::Tensor activate(const at::Tensor& x, Activation activation);

// cap·tanh(x / cap): Gemma's soft-capping of attention scores and logits into (−cap, cap).
at::Tensor soft_cap(const at::Tensor& x, double cap);

// nn.Embedding: "weight" [rows, dim]; forward looks up rows by index.
class Embedding : public torch::nn::Module {
 public:
  Embedding(std::int64_t rows, std::int64_t dim);
  at::Tensor forward(const at::Tensor& indices);  // [...] int64 -> [..., dim]
  const at::Tensor& weight() const { return weight_; }
  void reset_parameters(double std, at::Generator& generator);  // N(0, std²), drawn on the CPU

 private:
  at::Tensor weight_;
};

// RMSNorm: "weight" [dim]; x / sqrt(mean(x²) + eps), normalised in fp32, scaled by the weight in one of two
// conventions, each as transformers computes it:
enum class RmsNormWeight {
  // LlamaRMSNorm: weight · (normalised x cast back to x's dtype), weight initialised to 1.
  scale,
  // Gemma3RMSNorm: (normalised x · (1 + weight)) in fp32, then cast; weight initialised to 0 (stored as the
  // offset from 1).
  unit_offset,
};

class RmsNorm : public torch::nn::Module {
 public:
  RmsNorm(std::int64_t dim, double eps, RmsNormWeight convention = RmsNormWeight::scale);
  at::Tensor forward(const at::Tensor& x);  // [..., dim]
  void reset_parameters();                  // the identity: weight 1, or 0 with unit_offset

 private:
  double eps_;
  RmsNormWeight convention_;
  at::Tensor weight_;
};

// nn.LayerNorm: "weight" and "bias" [dim].
class LayerNorm : public torch::nn::Module {
 public:
  LayerNorm(std::int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x);
  void reset_parameters();  // weight 1, bias 0

 private:
  std::int64_t dim_;
  double eps_;
  at::Tensor weight_;
  at::Tensor bias_;
};

}  // namespace ladle::model
