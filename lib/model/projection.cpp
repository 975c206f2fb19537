#include "lib/model/projection.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "lib/model/dense.h"
#include "lib/util/error.h"

namespace ladle::model {

Projection::Projection(std::int64_t in_features, std::int64_t out_features, bool bias, WeightLayout layout)
    : torch::nn::Module("Projection"), in_features_(in_features), out_features_(out_features), layout_(layout) {
  const auto shape = layout == WeightLayout::out_in ? std::vector<std::int64_t>{out_features, in_features}
                                                    : std::vector<std::int64_t>{in_features, out_features};
  weight_ = register_parameter("weight", at::empty(shape, at::kFloat));
  if (bias) bias_ = register_parameter("bias", at::empty({out_features}, at::kFloat));
}

at::Tensor Projection::forward(const at::Tensor& x) {
  // Conv1D computes x·W + b: linear with Wᵀ is the same product, and lib/model/dense reads the transposed view
  // without a copy.
  at::Tensor y = dense(x, layout_ == WeightLayout::out_in ? weight_ : weight_.t(), bias_);
  if (!has_lora()) return y;
  const at::Tensor dropped = lora_dropout_ > 0 ? at::dropout(x, lora_dropout_, is_training()) : x;
  return y + dense(dense(dropped, lora_a_), lora_b_) * lora_scaling_;
}

void Projection::reset_parameters(double std, at::Generator& generator) {
  at::NoGradGuard no_grad;
  weight_.copy_(at::empty(weight_.sizes(), at::kFloat).normal_(0.0, std, generator));
  if (bias_.defined()) bias_.zero_();
}

void Projection::add_lora(std::int64_t r, double scaling, double dropout, at::Generator& generator) {
  if (has_lora()) throw Error("Projection already has a LoRA adapter");
  if (r <= 0) throw Error("LoRA rank must be positive, got " + std::to_string(r));
  const auto options = weight_.options().requires_grad(false);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features_));
  at::Tensor a = at::empty({r, in_features_}, at::kFloat).uniform_(-bound, bound, generator).to(options);
  at::Tensor b = at::zeros({out_features_, r}, options);
  auto lora_a_module = register_module("lora_A", std::make_shared<torch::nn::Module>("LoraA"));
  auto lora_b_module = register_module("lora_B", std::make_shared<torch::nn::Module>("LoraB"));
  lora_a_ = lora_a_module->register_parameter("weight", a);
  lora_b_ = lora_b_module->register_parameter("weight", b);
  lora_scaling_ = scaling;
  lora_dropout_ = dropout;
}

void Projection::remove_lora() {
  if (!has_lora()) return;
  unregister_module("lora_A");
  unregister_module("lora_B");
  lora_a_ = at::Tensor();
  lora_b_ = at::Tensor();
  lora_scaling_ = 0.0;
  lora_dropout_ = 0.0;
}

at::Tensor Projection::lora_delta() const {
  if (!has_lora()) throw Error("Projection has no LoRA adapter");
  at::Tensor delta = at::matmul(lora_b_.detach().to(at::kFloat), lora_a_.detach().to(at::kFloat)).mul(lora_scaling_);
  return layout_ == WeightLayout::in_out ? delta.t() : delta;
}

void Projection::set_lora_weights(const at::Tensor& a, const at::Tensor& b) {
  if (!has_lora()) throw Error("Projection has no LoRA adapter");
  if (a.sizes() != lora_a_.sizes() || b.sizes() != lora_b_.sizes()) {
    throw Error("LoRA weights of the wrong shape for this Projection");
  }
  at::NoGradGuard no_grad;
  lora_a_.copy_(a);
  lora_b_.copy_(b);
}

void Projection::merge_lora() {
  if (!has_lora()) return;
  {
    at::NoGradGuard no_grad;
    weight_.copy_(weight_.to(at::kFloat) + lora_delta());
  }
  remove_lora();
}

}  // namespace ladle::model
