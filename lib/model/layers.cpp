#include "lib/model/layers.h"

#include <ATen/ATen.h>

namespace ladle::model {

at::Tensor activate(const at::Tensor& x, Activation activation) {
  switch (activation) {
    case Activation::silu:
      return at::silu(x);
    case Activation::gelu_tanh:  // gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      return at::gelu(x, "tanh");
    case Activation::gelu:
      return at::gelu(x);
  }
  return x;
}

at::Tensor soft_cap(const at::Tensor& x, double cap) { return at::tanh(x / cap) * cap; }

Embedding::Embedding(std::int64_t rows, std::int64_t dim) : torch::nn::Module("Embedding") {
  weight_ = register_parameter("weight", at::empty({rows, dim}, at::kFloat));
}

at::Tensor Embedding::forward(const at::Tensor& indices) { return at::embedding(weight_, indices); }

void Embedding::reset_parameters(double std, at::Generator& generator) {
  at::NoGradGuard no_grad;
  weight_.copy_(at::empty(weight_.sizes(), at::kFloat).normal_(0.0, std, generator));
}

RmsNorm::RmsNorm(std::int64_t dim, double eps, RmsNormWeight convention)
    : torch::nn::Module("RmsNorm"), eps_(eps), convention_(convention) {
  weight_ = register_parameter("weight", at::empty({dim}, at::kFloat));
}

at::Tensor RmsNorm::forward(const at::Tensor& x) {
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normalised = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  if (convention_ == RmsNormWeight::unit_offset) {
    // Gemma multiplies before the cast (transformers PR 29402), which matters in bf16.
    return (normalised * (weight_.to(at::kFloat) + 1.0)).to(x.scalar_type());
  }
  return weight_ * normalised.to(x.scalar_type());
}

void RmsNorm::reset_parameters() {
  at::NoGradGuard no_grad;
  weight_.fill_(convention_ == RmsNormWeight::unit_offset ? 0.0 : 1.0);
}

LayerNorm::LayerNorm(std::int64_t dim, double eps) : torch::nn::Module("LayerNorm"), dim_(dim), eps_(eps) {
  weight_ = register_parameter("weight", at::empty({dim}, at::kFloat));
  bias_ = register_parameter("bias", at::empty({dim}, at::kFloat));
}

at::Tensor LayerNorm::forward(const at::Tensor& x) { return at::layer_norm(x, {dim_}, weight_, bias_, eps_); }

void LayerNorm::reset_parameters() {
  at::NoGradGuard no_grad;
  weight_.fill_(1.0);
  bias_.zero_();
}

}  // namespace ladle::model
