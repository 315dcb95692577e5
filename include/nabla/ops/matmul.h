// Matrix products. The multiply itself runs in a BLAS library (kernels/cpu/gemm).
#pragma once

#include "nabla/core/tensor.h"

namespace nabla {

/// torch.matmul: 1-D/2-D/batched with broadcasting of batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
/// y = x W^T + b (torch.nn.functional.linear): x (..., in), weight (out, in), bias (out) or
/// undefined. One GEMM with the transposed layout, no copy of W.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace nabla
