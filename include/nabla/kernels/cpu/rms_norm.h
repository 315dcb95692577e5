// RMS normalisation over the last dim of (N, C) rows (Zhang & Sennrich 2019, LLaMA's RMSNorm).
// rstd (N) is kept in the compute type for backward; the weight gradient is summed over fixed
// row chunks, then chunks in order, so it does not depend on the thread count.
#pragma once

#include <cstdint>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

/// out (N, C) = x * rstd * weight, rstd = 1 / sqrt(mean(x^2) + eps); weight (C) may be null.
template <typename T>
void rms_norm_forward(T* out, compute_t<T>* rstd, const T* x, const T* weight, int64_t N,
                      int64_t C, double eps);

/// dx (N, C), dweight (C) += gradients from dout (N, C); either may be null.
template <typename T>
void rms_norm_backward(T* dx, T* dweight, const T* dout, const T* x, const T* weight,
                       const compute_t<T>* rstd, int64_t N, int64_t C);

}  // namespace nabla::kernels::cpu
