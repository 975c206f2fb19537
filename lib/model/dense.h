// torch.nn.functional.linear for the model families' dense layers, with fp32 products on the CPU computed by
// oneDNN's sgemm instead of ATen's BLAS.
//
// Why: Debian's libtorch sends fp32 matrix products to the system BLAS (OpenBLAS), which on this project's CPUs
// runs its AVX2 kernel, about 110 GFLOP/s on one core at the model's shapes; oneDNN's sgemm uses AVX-512 and
// reaches 150-225 GFLOP/s on the same products. libtorch already links oneDNN (libdnnl), so its dnnl_sgemm is in
// every process that runs ladle; it is looked up at run time and no build dependency is added. The products are
// the same sums in a different order (float reassociation only).
#pragma once

#include <ATen/core/Tensor.h>

namespace ladle::model {

// y = x·Wᵀ + b. x [..., in], weight [out, in] (any strides; the transpose of a contiguous [in, out] matrix, as
// GPT-2's Conv1D stores it, is used without a copy), bias [out] or undefined; returns [..., out]. Differentiable
// (a custom autograd function whose backward also uses oneDNN; with create_graph the backward is built from
// differentiable ATen ops). Takes the oneDNN path when x, weight and bias are fp32 CPU tensors, CPU autocast is off
// and dnnl_sgemm was found (onednn_sgemm_available()); otherwise it is at::linear.
at::Tensor dense(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {});

// a·b for 2-D fp32 CPU tensors, a [m, k], b [k, n], through dnnl_sgemm (a copy is made only of an operand that is
// neither row-major nor the transpose of a row-major matrix). Returns a contiguous [m, n] tensor. Throws
// ladle::Error when onednn_sgemm_available() is false or the operands do not fit.
at::Tensor onednn_matmul(const at::Tensor& a, const at::Tensor& b);

// Whether libdnnl's dnnl_sgemm was found in the process.
bool onednn_sgemm_available();

}  // namespace ladle::model
