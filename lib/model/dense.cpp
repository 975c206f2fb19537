#include "lib/model/dense.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <dlfcn.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lib/util/error.h"

namespace ladle::model {
namespace {

// oneDNN's C API (dnnl.h, unchanged since oneDNN 1.0): C = alpha·op(A)·op(B) + beta·C on row-major matrices,
// op(X) = X or Xᵀ for trans 'N' or 'T'; returns dnnl_success (0) or an error status. Threads: OpenMP's
// omp_get_max_threads(), which at::set_num_threads sets.
using SgemmFunction = int (*)(char transa, char transb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                              const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
                              float* c, std::int64_t ldc);

SgemmFunction find_sgemm() {
  static const auto function = reinterpret_cast<SgemmFunction>(dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
  return function;
}

// A matrix as sgemm reads it: row-major with leading dimension `ld` ('N'), or the transpose of such a matrix ('T').
struct SgemmOperand {
  at::Tensor storage;  // the tensor whose memory is read (a contiguous copy when the strides allowed neither form)
  char trans;
  std::int64_t ld;
};

SgemmOperand sgemm_operand(const at::Tensor& matrix) {
  const std::int64_t rows = matrix.size(0), cols = matrix.size(1);
  if (matrix.stride(1) == 1 && matrix.stride(0) >= std::max<std::int64_t>(1, cols)) {
    return {matrix, 'N', matrix.stride(0)};
  }
  if (matrix.stride(0) == 1 && matrix.stride(1) >= std::max<std::int64_t>(1, rows)) {
    return {matrix, 'T', matrix.stride(1)};
  }
  return {matrix.contiguous(), 'N', std::max<std::int64_t>(1, cols)};
}

bool is_cpu_float(const at::Tensor& tensor) {
  return !tensor.defined() ||
         (tensor.device().is_cpu() && tensor.layout() == at::kStrided && tensor.scalar_type() == at::kFloat);
}

bool takes_onednn_path(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return onednn_sgemm_available() && !at::autocast::is_cpu_enabled() && x.dim() >= 1 && weight.dim() == 2 &&
         is_cpu_float(x) && is_cpu_float(weight) && is_cpu_float(bias);
}

// x [..., in] as the matrix [rows, in] (a view when x's strides allow it).
at::Tensor as_rows(const at::Tensor& x) { return x.reshape({-1, x.size(-1)}); }

// c ← a·b, c a contiguous [m, n] tensor.
void sgemm_into(const at::Tensor& a, const at::Tensor& b, at::Tensor& c) {
  const std::int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    c.zero_();
    return;
  }
  const SgemmOperand left = sgemm_operand(a), right = sgemm_operand(b);
  const int status = find_sgemm()(left.trans, right.trans, m, n, k, 1.0f, left.storage.data_ptr<float>(), left.ld,
                                  right.storage.data_ptr<float>(), right.ld, 0.0f, c.data_ptr<float>(), n);
  if (status != 0) throw Error("onednn_matmul: dnnl_sgemm failed with status " + std::to_string(status));
}

// rows·b for rows = x as [rows, k], returned with x's leading dimensions: [..., n]. A new tensor, not a view, so
// callers may modify the output of OnednnLinear in place.
at::Tensor matmul_keeping_leading_dims(const at::Tensor& x, const at::Tensor& b) {
  std::vector<std::int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = b.size(1);
  at::Tensor y = at::empty(shape, x.options().memory_format(at::MemoryFormat::Contiguous));
  at::Tensor rows = y.view({-1, b.size(1)});
  sgemm_into(as_rows(x), b, rows);
  return y;
}

// The weight gradient gyᵀ·x [out, in], laid out in memory as the weight is: for the transpose of a contiguous
// [in, out] weight, computed as (xᵀ·gy)ᵀ, so accumulating it into the weight's gradient reads memory in order.
at::Tensor weight_gradient(const at::Tensor& grad_rows, const at::Tensor& x_rows, const at::Tensor& weight) {
  if (weight.stride(0) == 1 && weight.stride(1) != 1) return onednn_matmul(x_rows.t(), grad_rows).t();
  return onednn_matmul(grad_rows.t(), x_rows);
}

class OnednnLinear : public torch::autograd::Function<OnednnLinear> {
 public:
  // `bias` is optional rather than an undefined tensor, which autograd's Function cannot take as an input.
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& x, const at::Tensor& weight,
                            const c10::optional<at::Tensor>& bias) {
    context->save_for_backward({x, weight});
    context->saved_data["has_bias"] = bias.has_value();
    at::Tensor y = matmul_keeping_leading_dims(x, weight.t());
    if (bias) y.add_(*bias);
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    const auto saved = context->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1];
    const at::Tensor grad_rows = as_rows(grads[0]);
    at::Tensor grad_x, grad_weight, grad_bias;
    if (at::GradMode::is_enabled()) {  // create_graph: a backward that is itself differentiable
      const at::Tensor x_rows = as_rows(x);
      if (context->needs_input_grad(0)) grad_x = at::matmul(grads[0], weight);
      if (context->needs_input_grad(1)) grad_weight = at::mm(grad_rows.t(), x_rows);
    } else {
      if (context->needs_input_grad(0)) grad_x = matmul_keeping_leading_dims(grads[0], weight);
      if (context->needs_input_grad(1)) grad_weight = weight_gradient(grad_rows, as_rows(x), weight);
    }
    if (context->saved_data["has_bias"].toBool() && context->needs_input_grad(2)) grad_bias = grad_rows.sum(0);
    return {grad_x, grad_weight, grad_bias};
  }
};

}  // namespace

bool onednn_sgemm_available() { return find_sgemm() != nullptr; }

at::Tensor onednn_matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!onednn_sgemm_available()) throw Error("onednn_matmul: dnnl_sgemm (libdnnl) is not loaded in this process");
  if (!a.defined() || !b.defined() || a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(0) || !is_cpu_float(a) ||
      !is_cpu_float(b)) {
    throw Error("onednn_matmul: expected fp32 CPU matrices [m, k] and [k, n]");
  }
  at::Tensor c = at::empty({a.size(0), b.size(1)}, a.options());
  sgemm_into(a, b, c);
  return c;
}

at::Tensor dense(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (!takes_onednn_path(x, weight, bias)) return at::linear(x, weight, bias);
  return OnednnLinear::apply(x, weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt);
}

}  // namespace ladle::model
