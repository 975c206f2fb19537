// Weight-space arithmetic on single tensors: weighted sums and means, interpolation, differences, norms, and the
// in-place averaging kernels (EMA, SWA running mean) that training callbacks run on flat parameter buffers.
//
// Precision: results are computed in the accumulation dtype (fp32, or fp64 when any input is fp64), whatever the
// input dtypes (bf16, fp16, fp32, fp64); to_storage_dtype rounds a result back for storage. Inputs must be
// floating-point, share one device (any device: results live on the inputs' device) and, unless stated
// otherwise, have identical shapes. Violations throw ladle::Error naming the shapes or dtypes.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace ladle {

// fp64 when any tensor is fp64, else fp32. Throws ladle::Error when the list is empty or a tensor is undefined
// or not floating-point.
at::ScalarType accumulation_dtype(at::TensorList tensors);

// Σ wᵢ·tᵢ over same-shaped tensors, in the accumulation dtype. One weight per tensor.
at::Tensor weighted_sum(const std::vector<at::Tensor>& tensors, const std::vector<double>& weights);

// Σ wᵢ·tᵢ / Σ wᵢ, in the accumulation dtype. The sum is divided once at the end, so identical bf16 or fp16
// copies with small integer weights average back to the copy exactly (every partial sum is exact in fp32).
// Throws ladle::Error when Σ wᵢ == 0.
at::Tensor weighted_mean(const std::vector<at::Tensor>& tensors, const std::vector<double>& weights);

// (1−t)·a + t·b in the accumulation dtype, with ATen's lerp formula (aten/src/ATen/native/Lerp.h: a + t·(b−a)
// for t < 0.5, b − (b−a)·(1−t) otherwise), so t = 0 returns a and t = 1 returns b exactly. t may lie outside
// [0, 1] (extrapolation).
at::Tensor lerp(const at::Tensor& a, const at::Tensor& b, double t);

// a − b in the accumulation dtype: the task vector τ = θ_ft − θ_base of Ilharco et al., "Editing Models with Task
// Arithmetic" (ICLR 2023), when a is fine-tuned and b the base.
at::Tensor difference(const at::Tensor& a, const at::Tensor& b);

// Euclidean norm of all elements, accumulated in fp64.
double l2_norm(const at::Tensor& tensor);

// ⟨a, b⟩ / (‖a‖·‖b‖) over the flattened tensors (same number of elements), in fp64, clamped to [−1, 1].
// Returns 0 when either norm is 0: a zero vector has no direction, and 0 ("unrelated") is the neutral value
// for the similarity statistics reported over task vectors. Call it qualified (ladle::cosine_similarity):
// argument-dependent lookup also finds at::cosine_similarity(x1, x2, dim = 1, eps = 1e-8), which is ambiguous.
double cosine_similarity(const at::Tensor& a, const at::Tensor& b);

// Casts an accumulated result to the dtype it is stored in, rounding to nearest (ties to even), which is how
// ATen converts fp32/fp64 to bf16 and fp16 (c10::BFloat16 round_to_nearest_even, IEEE fp16 conversion).
// Values beyond the target's range become ±inf. The dtype must be floating-point.
at::Tensor to_storage_dtype(const at::Tensor& accumulated, at::ScalarType dtype);

// ---- In-place averaging kernels (the training hot path) ----
//
// Both take an `average` and a `live` tensor of the same shape on the same device. The fast path is a single
// multithreaded (at::parallel_for), vectorised pass for contiguous CPU tensors with
//   average fp32 and live fp32 or bf16 (live is widened to fp32 exactly), or
//   average fp64 and live fp64;
// with same-dtype inputs it reproduces the rounding of the torch.optim.swa_utils reference formulas bit for bit
// (one rounding per operation, no fused multiply-add). A bf16 live tensor is widened first, so every operation is
// in fp32 (torch's mixed-dtype expression would round (1−decay)·p to bf16). Other devices, dtypes or layouts fall
// back to ATen's lerp computed in the accumulation dtype and rounded once into the average: the same average up to
// rounding. Both kernels record the write in the average's autograd version counter.

// average ← decay·average + (1−decay)·live, with decay in [0, 1]. In the fast path the two products and the sum
// are rounded as torch computes `decay * avg + (1 - decay) * p`, the EMA avg_fn in the AveragedModel docstring
// (torch/optim/swa_utils.py, 1.13): decay and 1−decay are rounded to the average's dtype first.
void ema_update_(at::Tensor& average, const at::Tensor& live, double decay);

// ema_update_(averages[k], live, decays[k]) for every k, in one pass over live: each block of live is folded into
// every average while it is in the first-level cache, so live is read from memory once instead of once per average,
// and the threads start once. Same numbers as the separate calls (the kernel is element-wise). The averages must be
// distinct tensors of live's shape; a set outside the fast path (see above) is updated one average at a time.
void ema_update_together_(std::vector<at::Tensor>& averages, const at::Tensor& live, const std::vector<double>& decays);

// average ← average + (live − average) / (count_before + 1): the running mean of Izmailov et al., "Averaging
// Weights Leads to Wider Optima and Better Generalization" (UAI 2018), computed as AveragedModel's default
// avg_fn does (torch/optim/swa_utils.py, 1.13): one subtraction, one true division by count_before + 1 converted
// to the average's dtype, one addition. count_before = 0 copies live into average (as update_parameters does on
// its first call), so the average may start uninitialised.
void running_mean_update_(at::Tensor& average, const at::Tensor& live, std::int64_t count_before);

}  // namespace ladle
