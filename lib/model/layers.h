// The small building blocks of the model families besides Projection: a token/position embedding table and the
// two normalisations. Parameter names are those of the Hugging Face modules they mirror.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>

#include "lib/model/causal_lm_config.h"

namespace ladle::model {

// The MLP's activation function (silu, or GELU exact or with the tanh approximation that GPT-2's gelu_new is).
at::Tensor activate(const at::Tensor& x, Activation activation);

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

// LlamaRMSNorm: "weight" [dim]; y = weight · x / sqrt(mean(x²) + eps), computed in fp32 and cast back to x's
// dtype before the weight is applied (as transformers does, so bf16 activations normalise accurately).
class RmsNorm : public torch::nn::Module {
 public:
  RmsNorm(std::int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x);
  void reset_parameters();  // weight 1

 private:
  double eps_;
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
