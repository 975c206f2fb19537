// A dense layer with Hugging Face's weight layout (nn.Linear's [out, in] or GPT-2 Conv1D's [in, out]) and an
// optional LoRA adapter: the unit that LoRA targets and that the model families are built from.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>

namespace ladle::model {

// How a dense layer's weight is stored, as the checkpoint stores it.
enum class WeightLayout {
  out_in,  // torch.nn.Linear: weight [out, in], y = x·Wᵀ + b
  in_out,  // transformers' GPT-2 Conv1D: weight [in, out], y = x·W + b
};

// Parameters (names as in Hugging Face): "weight" and, when enabled, "bias" [out]. With a LoRA adapter also
// "lora_A.weight" [r, in] and "lora_B.weight" [out, r] (submodules lora_A and lora_B, PEFT's names without the
// adapter name), and then
//   y = base(x) + scaling·(dropout(x)·Aᵀ)·Bᵀ        (Hu et al., "LoRA", ICLR 2022, eq. 3; PEFT's lora.Linear)
// with scaling = alpha / r. The forward uses lib/model/dense.h (oneDNN for fp32 on the CPU, else torch::linear).
class Projection : public torch::nn::Module {
 public:
  // Parameters are created uninitialised (fp32, CPU); see reset_parameters.
  Projection(std::int64_t in_features, std::int64_t out_features, bool bias, WeightLayout layout);

  // x [..., in] -> [..., out]
  at::Tensor forward(const at::Tensor& x);

  std::int64_t in_features() const { return in_features_; }
  std::int64_t out_features() const { return out_features_; }
  WeightLayout layout() const { return layout_; }
  const at::Tensor& weight() const { return weight_; }
  const at::Tensor& bias() const { return bias_; }  // undefined without bias

  // weight ~ N(0, std²) drawn on the CPU from `generator` (so the result does not depend on the device), bias 0.
  void reset_parameters(double std, at::Generator& generator);

  // ---- LoRA ----

  // Adds an adapter of rank r: A ~ U(−1/√in, 1/√in) (Kaiming-uniform with a = √5, as PEFT and nn.Linear
  // initialise it) drawn from `generator` on the CPU, B = 0, so the output is unchanged until B trains.
  // Adapter parameters get the base weight's dtype and device. Throws ladle::Error if one is already present.
  void add_lora(std::int64_t r, double scaling, double dropout, at::Generator& generator);
  // Removes the adapter (a no-op without one).
  void remove_lora();
  bool has_lora() const { return lora_a_.defined(); }
  std::int64_t lora_rank() const { return has_lora() ? lora_a_.size(0) : 0; }
  double lora_scaling() const { return lora_scaling_; }
  double lora_dropout() const { return lora_dropout_; }
  const at::Tensor& lora_a() const { return lora_a_; }  // [r, in]
  const at::Tensor& lora_b() const { return lora_b_; }  // [out, r]
  // scaling·B·A in the weight's layout ([out, in], or its transpose for in_out), in fp32.
  at::Tensor lora_delta() const;
  // Copies values into the adapter's A [r, in] and B [out, r] (converting dtype and device).
  void set_lora_weights(const at::Tensor& a, const at::Tensor& b);
  // weight ← weight + lora_delta() (summed in fp32, stored in the weight's dtype), then removes the adapter.
  void merge_lora();

 private:
  std::int64_t in_features_;
  std::int64_t out_features_;
  WeightLayout layout_;
  at::Tensor weight_;
  at::Tensor bias_;
  at::Tensor lora_a_;
  at::Tensor lora_b_;
  double lora_scaling_ = 0.0;
  double lora_dropout_ = 0.0;
};

}  // namespace ladle::model
