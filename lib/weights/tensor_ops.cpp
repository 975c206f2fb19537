#include "lib/weights/tensor_ops.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "lib/util/error.h"
#include "lib/util/shape_text.h"

// The library is compiled for baseline x86-64 (SSE2). GCC function multi-versioning compiles the streaming kernels
// for AVX-512 and AVX2 as well and picks the best one when the library is loaded. Contraction into fused
// multiply-adds is switched off so that each product and sum is rounded on its own, as torch's separate mul, sub,
// div and add kernels round them (see the numerics contract in tensor_ops.h).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LADLE_STREAMING_KERNEL __attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=off")))
#else
#define LADLE_STREAMING_KERNEL
#endif

namespace ladle {
namespace {

// Elements per at::parallel_for chunk: large enough that a thread's share is a long streaming run.
constexpr std::int64_t kGrainSize = std::int64_t{1} << 16;

void require_defined(const at::Tensor& tensor, const std::string& op, const std::string& role) {
  if (!tensor.defined()) throw Error(op + ": " + role + " is undefined");
}

void require_same_shape(const at::Tensor& tensor, const at::Tensor& reference, const std::string& op,
                        const std::string& role, const std::string& reference_role) {
  if (!tensor.sizes().equals(reference.sizes())) {
    throw Error(op + ": " + role + " has shape " + shape_text(tensor.sizes()) + ", expected " + shape_text(reference.sizes()) +
                " (the shape of " + reference_role + ")");
  }
}

void require_same_device(const at::Tensor& tensor, const at::Tensor& reference, const std::string& op,
                         const std::string& role, const std::string& reference_role) {
  if (tensor.device() != reference.device()) {
    throw Error(op + ": " + role + " is on " + tensor.device().str() + ", expected " + reference.device().str() +
                " (the device of " + reference_role + ")");
  }
}

void require_floating(const at::Tensor& tensor, const std::string& op, const std::string& role) {
  if (!at::isFloatingType(tensor.scalar_type())) {
    throw Error(op + ": " + role + " has dtype " + c10::toString(tensor.scalar_type()) +
                ", expected a floating-point dtype (bf16, fp16, fp32 or fp64)");
  }
}

// fp64 when any tensor is fp64, else fp32, after checking that every tensor is defined and floating-point;
// errors name the operation and the tensor's role ("input 1").
at::ScalarType checked_accumulation_dtype(at::TensorList tensors, const std::string& op) {
  if (tensors.empty()) throw Error(op + ": no tensors given");
  bool any_double = false;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string role = "input " + std::to_string(i);
    require_defined(tensors[i], op, role);
    require_floating(tensors[i], op, role);
    any_double = any_double || tensors[i].scalar_type() == at::kDouble;
  }
  return any_double ? at::kDouble : at::kFloat;
}

// Checks a same-shape, same-device pair and returns the accumulation dtype.
at::ScalarType check_pair(const at::Tensor& a, const at::Tensor& b, const std::string& op) {
  require_defined(a, op, "input 0");
  require_defined(b, op, "input 1");
  require_same_shape(b, a, op, "input 1", "input 0");
  require_same_device(b, a, op, "input 1", "input 0");
  return checked_accumulation_dtype({a, b}, op);
}

// Checks the list for weighted_sum / weighted_mean and returns the accumulation dtype.
at::ScalarType check_weighted(const std::vector<at::Tensor>& tensors, const std::vector<double>& weights,
                              const std::string& op) {
  if (tensors.empty()) throw Error(op + ": no tensors given");
  if (weights.size() != tensors.size()) {
    throw Error(op + ": " + std::to_string(tensors.size()) + " tensors but " + std::to_string(weights.size()) +
                " weights");
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string role = "input " + std::to_string(i);
    require_defined(tensors[i], op, role);
    require_same_shape(tensors[i], tensors[0], op, role, "input 0");
    require_same_device(tensors[i], tensors[0], op, role, "input 0");
  }
  return checked_accumulation_dtype(tensors, op);
}

// A copy of `tensor` converted to `dtype` (never an alias, so the caller may update it in place).
at::Tensor owned_copy(const at::Tensor& tensor, at::ScalarType dtype) {
  return tensor.to(dtype, /*non_blocking=*/false, /*copy=*/true);
}

// ---- Streaming kernels over [0, n) of contiguous buffers ----

LADLE_STREAMING_KERNEL
void ema_span(float* average, const float* live, std::int64_t n, float decay, float complement) {
  for (std::int64_t i = 0; i < n; ++i) average[i] = decay * average[i] + complement * live[i];
}

// live holds bf16 bit patterns; widening to fp32 is exact (the bf16 bits are the high half of the fp32 bits).
LADLE_STREAMING_KERNEL
void ema_span(float* average, const std::uint16_t* live, std::int64_t n, float decay, float complement) {
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint32_t bits = static_cast<std::uint32_t>(live[i]) << 16;
    float value;
    std::memcpy(&value, &bits, sizeof value);
    average[i] = decay * average[i] + complement * value;
  }
}

LADLE_STREAMING_KERNEL
void ema_span(double* average, const double* live, std::int64_t n, double decay, double complement) {
  for (std::int64_t i = 0; i < n; ++i) average[i] = decay * average[i] + complement * live[i];
}

LADLE_STREAMING_KERNEL
void running_mean_span(float* average, const float* live, std::int64_t n, float divisor) {
  for (std::int64_t i = 0; i < n; ++i) average[i] = average[i] + (live[i] - average[i]) / divisor;
}

LADLE_STREAMING_KERNEL
void running_mean_span(float* average, const std::uint16_t* live, std::int64_t n, float divisor) {
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint32_t bits = static_cast<std::uint32_t>(live[i]) << 16;
    float value;
    std::memcpy(&value, &bits, sizeof value);
    average[i] = average[i] + (value - average[i]) / divisor;
  }
}

LADLE_STREAMING_KERNEL
void running_mean_span(double* average, const double* live, std::int64_t n, double divisor) {
  for (std::int64_t i = 0; i < n; ++i) average[i] = average[i] + (live[i] - average[i]) / divisor;
}

// Runs update(average_ptr, live_ptr, count) over chunks of the buffers on at::get_num_threads() threads.
template <typename Average, typename Live, typename Update>
void parallel_stream(at::Tensor& average, const at::Tensor& live, const Update& update) {
  Average* average_data = static_cast<Average*>(average.data_ptr());
  const Live* live_data = static_cast<const Live*>(live.data_ptr());
  at::parallel_for(0, average.numel(), kGrainSize, [&](std::int64_t begin, std::int64_t end) {
    update(average_data + begin, live_data + begin, end - begin);
  });
  // Raw-pointer writes bypass ATen, so record the in-place change for autograd's saved-tensor checks.
  average.unsafeGetTensorImpl()->bump_version();
}

// Which fast-path kernel (if any) serves this pair.
enum class StreamingKind { none, f32_f32, f32_bf16, f64_f64 };

StreamingKind streaming_kind(const at::Tensor& average, const at::Tensor& live) {
  if (!average.device().is_cpu() || !average.is_contiguous() || !live.is_contiguous()) return StreamingKind::none;
  const auto a = average.scalar_type();
  const auto l = live.scalar_type();
  if (a == at::kFloat && l == at::kFloat) return StreamingKind::f32_f32;
  if (a == at::kFloat && l == at::kBFloat16) return StreamingKind::f32_bf16;
  if (a == at::kDouble && l == at::kDouble) return StreamingKind::f64_f64;
  return StreamingKind::none;
}

// The portable path of the averaging kernels: average ← average + weight·(live − average) with ATen's lerp,
// computed in the accumulation dtype (CPU has no fp16 lerp, and one rounding to a bf16/fp16 average is more
// accurate than rounding every intermediate).
void lerp_in_accumulation_dtype_(at::Tensor& average, const at::Tensor& live, double weight) {
  at::NoGradGuard no_grad;
  const at::ScalarType dtype = accumulation_dtype({average, live});
  if (average.scalar_type() == dtype) {
    average.lerp_(live.to(dtype), weight);
  } else {
    average.copy_(at::lerp(average.to(dtype), live.to(dtype), weight));
  }
}

void check_update(const at::Tensor& average, const at::Tensor& live, const std::string& op) {
  require_defined(average, op, "the average");
  require_defined(live, op, "the live tensor");
  require_floating(average, op, "the average");
  require_floating(live, op, "the live tensor");
  require_same_shape(live, average, op, "the live tensor", "the average");
  require_same_device(live, average, op, "the live tensor", "the average");
}

}  // namespace

at::ScalarType accumulation_dtype(at::TensorList tensors) {
  return checked_accumulation_dtype(tensors, "accumulation_dtype");
}

at::Tensor weighted_sum(const std::vector<at::Tensor>& tensors, const std::vector<double>& weights) {
  const at::ScalarType dtype = check_weighted(tensors, weights, "weighted_sum");
  at::NoGradGuard no_grad;
  at::Tensor sum = owned_copy(tensors[0], dtype);
  if (weights[0] != 1.0) sum.mul_(weights[0]);
  for (std::size_t i = 1; i < tensors.size(); ++i) sum.add_(tensors[i], weights[i]);
  return sum;
}

at::Tensor weighted_mean(const std::vector<at::Tensor>& tensors, const std::vector<double>& weights) {
  check_weighted(tensors, weights, "weighted_mean");
  double total = 0.0;
  for (double weight : weights) total += weight;
  if (total == 0.0) throw Error("weighted_mean: the weights sum to 0, so the mean is undefined");
  at::NoGradGuard no_grad;
  return weighted_sum(tensors, weights).div_(total);
}

at::Tensor lerp(const at::Tensor& a, const at::Tensor& b, double t) {
  const at::ScalarType dtype = check_pair(a, b, "lerp");
  at::NoGradGuard no_grad;
  return at::lerp(a.to(dtype), b.to(dtype), t);
}

at::Tensor difference(const at::Tensor& a, const at::Tensor& b) {
  const at::ScalarType dtype = check_pair(a, b, "difference");
  at::NoGradGuard no_grad;
  return owned_copy(a, dtype).sub_(b);
}

double l2_norm(const at::Tensor& tensor) {
  require_defined(tensor, "l2_norm", "the tensor");
  require_floating(tensor, "l2_norm", "the tensor");
  at::NoGradGuard no_grad;
  return at::linalg_vector_norm(tensor, 2, c10::nullopt, /*keepdim=*/false, at::kDouble).item<double>();
}

double cosine_similarity(const at::Tensor& a, const at::Tensor& b) {
  require_defined(a, "cosine_similarity", "input 0");
  require_defined(b, "cosine_similarity", "input 1");
  if (a.numel() != b.numel()) {
    throw Error("cosine_similarity: the inputs have shapes " + shape_text(a.sizes()) + " and " + shape_text(b.sizes()) +
                ", expected the same number of elements");
  }
  require_same_device(b, a, "cosine_similarity", "input 1", "input 0");
  checked_accumulation_dtype({a, b}, "cosine_similarity");
  at::NoGradGuard no_grad;
  const at::Tensor a64 = a.reshape(-1).to(at::kDouble);
  const at::Tensor b64 = b.reshape(-1).to(at::kDouble);
  const double norm_a = at::linalg_vector_norm(a64).item<double>();
  const double norm_b = at::linalg_vector_norm(b64).item<double>();
  if (norm_a == 0.0 || norm_b == 0.0) return 0.0;
  const double cosine = at::dot(a64, b64).item<double>() / (norm_a * norm_b);
  return std::clamp(cosine, -1.0, 1.0);
}

at::Tensor to_storage_dtype(const at::Tensor& accumulated, at::ScalarType dtype) {
  require_defined(accumulated, "to_storage_dtype", "the tensor");
  if (!at::isFloatingType(dtype)) {
    throw Error(std::string("to_storage_dtype: target dtype ") + c10::toString(dtype) +
                " is not a floating-point dtype");
  }
  at::NoGradGuard no_grad;
  return accumulated.to(dtype);
}

void ema_update_(at::Tensor& average, const at::Tensor& live, double decay) {
  check_update(average, live, "ema_update_");
  if (!(decay >= 0.0 && decay <= 1.0)) {
    throw Error("ema_update_: decay is " + std::to_string(decay) + ", expected a value in [0, 1]");
  }
  switch (streaming_kind(average, live)) {
    case StreamingKind::f32_f32:
    case StreamingKind::f32_bf16: {
      // Rounded to fp32 before use, as torch converts the Python scalars in `decay * avg + (1 - decay) * p`.
      const float d = static_cast<float>(decay);
      const float c = static_cast<float>(1.0 - decay);
      if (live.scalar_type() == at::kFloat) {
        parallel_stream<float, float>(average, live,
                                      [=](float* avg, const float* in, std::int64_t n) { ema_span(avg, in, n, d, c); });
      } else {
        parallel_stream<float, std::uint16_t>(
            average, live, [=](float* avg, const std::uint16_t* in, std::int64_t n) { ema_span(avg, in, n, d, c); });
      }
      return;
    }
    case StreamingKind::f64_f64:
      parallel_stream<double, double>(average, live, [=](double* avg, const double* in, std::int64_t n) {
        ema_span(avg, in, n, decay, 1.0 - decay);
      });
      return;
    case StreamingKind::none:
      break;
  }
  lerp_in_accumulation_dtype_(average, live, 1.0 - decay);
}

void ema_update_together_(std::vector<at::Tensor>& averages, const at::Tensor& live, const std::vector<double>& decays) {
  if (averages.size() != decays.size()) {
    throw Error("ema_update_together_: " + std::to_string(averages.size()) + " averages but " +
                std::to_string(decays.size()) + " decays");
  }
  bool fast = true;
  for (std::size_t k = 0; k < averages.size(); ++k) {
    check_update(averages[k], live, "ema_update_together_");
    if (!(decays[k] >= 0.0 && decays[k] <= 1.0)) {
      throw Error("ema_update_together_: decay is " + std::to_string(decays[k]) + ", expected a value in [0, 1]");
    }
    const StreamingKind kind = streaming_kind(averages[k], live);
    fast = fast && (kind == StreamingKind::f32_f32 || kind == StreamingKind::f32_bf16);
  }
  if (!fast || averages.size() < 2) {
    for (std::size_t k = 0; k < averages.size(); ++k) ema_update_(averages[k], live, decays[k]);
    return;
  }
  std::vector<float*> data;
  std::vector<float> keep, take;  // decay and 1 − decay rounded to fp32, as ema_update_ rounds them
  for (std::size_t k = 0; k < averages.size(); ++k) {
    data.push_back(averages[k].data_ptr<float>());
    keep.push_back(static_cast<float>(decays[k]));
    take.push_back(static_cast<float>(1.0 - decays[k]));
  }
  // 2,048 live elements (8 KiB of fp32) and the matching block of each average stay in the first-level cache while
  // every average reads the block.
  constexpr std::int64_t kBlock = 2048;
  const auto fold_all = [&](const auto* live_data, std::int64_t begin, std::int64_t end) {
    for (std::int64_t block = begin; block < end; block += kBlock) {
      const std::int64_t n = std::min(kBlock, end - block);
      for (std::size_t k = 0; k < data.size(); ++k) ema_span(data[k] + block, live_data + block, n, keep[k], take[k]);
    }
  };
  at::parallel_for(0, live.numel(), kGrainSize, [&](std::int64_t begin, std::int64_t end) {
    if (live.scalar_type() == at::kFloat) {
      fold_all(static_cast<const float*>(live.data_ptr()), begin, end);
    } else {
      fold_all(static_cast<const std::uint16_t*>(live.data_ptr()), begin, end);
    }
  });
  for (auto& average : averages) average.unsafeGetTensorImpl()->bump_version();
}

void running_mean_update_(at::Tensor& average, const at::Tensor& live, std::int64_t count_before) {
  check_update(average, live, "running_mean_update_");
  if (count_before < 0) {
    throw Error("running_mean_update_: count_before is " + std::to_string(count_before) + ", expected >= 0");
  }
  at::NoGradGuard no_grad;
  if (count_before == 0) {
    average.copy_(live);
    return;
  }
  // torch converts the integer count + 1 to the average's dtype and divides by it (a true division).
  const std::int64_t count = count_before + 1;
  switch (streaming_kind(average, live)) {
    case StreamingKind::f32_f32:
    case StreamingKind::f32_bf16: {
      const float divisor = static_cast<float>(count);
      if (live.scalar_type() == at::kFloat) {
        parallel_stream<float, float>(average, live, [=](float* avg, const float* in, std::int64_t n) {
          running_mean_span(avg, in, n, divisor);
        });
      } else {
        parallel_stream<float, std::uint16_t>(average, live, [=](float* avg, const std::uint16_t* in, std::int64_t n) {
          running_mean_span(avg, in, n, divisor);
        });
      }
      return;
    }
    case StreamingKind::f64_f64:
      parallel_stream<double, double>(average, live, [=](double* avg, const double* in, std::int64_t n) {
        running_mean_span(avg, in, n, static_cast<double>(count));
      });
      return;
    case StreamingKind::none:
      break;
  }
  lerp_in_accumulation_dtype_(average, live, 1.0 / static_cast<double>(count));
}

}  // namespace ladle
