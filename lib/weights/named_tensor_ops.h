// Weight-space arithmetic over whole NamedTensors sets (models, task vectors, averages): the per-tensor operations
// of tensor_ops.h applied name by name, after checking that the sets share a layout (same names, same shapes).
//
// Results are in the accumulation dtype (fp32, or fp64 where an input is fp64); cast() rounds a result to its
// storage dtype. Output order follows the first set. Errors are ladle::Error naming the operation, the tensor
// and the sets involved (inputs of weighted_sum / weighted_mean are labelled "input 0", "input 1", ...).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "lib/weights/named_tensors.h"

namespace ladle {

// Throws ladle::Error unless a and b hold the same names with the same shapes (order may differ). The message
// lists the first few names missing from b, the first few found only in b and the first few shape mismatches,
// using the labels to say which set is which (e.g. "finetuned", "base").
void require_same_layout(const NamedTensors& a, const NamedTensors& b, const std::string& label_a,
                         const std::string& label_b);

// Σ wᵢ·setᵢ, name by name. One weight per set; at least one set; no null pointers.
NamedTensors weighted_sum(const std::vector<const NamedTensors*>& sets, const std::vector<double>& weights);

// Σ wᵢ·setᵢ / Σ wᵢ, name by name (a uniform soup or a SWA/LAWA average of checkpoints with equal weights).
// Throws ladle::Error when Σ wᵢ == 0.
NamedTensors weighted_mean(const std::vector<const NamedTensors*>& sets, const std::vector<double>& weights);

// (1−t)·a + t·b, name by name: WiSE-FT's weight-space ensemble, Wortsman et al., "Robust fine-tuning of zero-shot
// models" (CVPR 2022), eq. 1, with a the zero-shot and b the fine-tuned weights and t their α.
NamedTensors lerp(const NamedTensors& a, const NamedTensors& b, double t);

// finetuned − base, name by name: the task vector of Ilharco et al., "Editing Models with Task Arithmetic"
// (ICLR 2023).
NamedTensors task_vector(const NamedTensors& finetuned, const NamedTensors& base);

// base + scale·delta, name by name: applies a (summed) task vector with scaling coefficient λ (Ilharco et al.).
NamedTensors add_scaled(const NamedTensors& base, const NamedTensors& delta, double scale);

// (name, ‖tensor‖₂) for every tensor, in set order, accumulated in fp64.
std::vector<std::pair<std::string, double>> per_tensor_l2_norms(const NamedTensors& set);

// (name, cosine similarity of a[name] and b[name]) in a's order; 0 where either tensor is all zeros
// (see cosine_similarity in tensor_ops.h).
std::vector<std::pair<std::string, double>> per_tensor_cosine(const NamedTensors& a, const NamedTensors& b);

// Every floating-point tensor rounded to nearest into dtype (a floating-point dtype); integer and bool tensors
// (counters, masks) are kept as they are, as torch::nn::Module::to(dtype) keeps them.
NamedTensors cast(const NamedTensors& set, at::ScalarType dtype);

}  // namespace ladle
