// Layer normalisation over the last dim of (N, C) rows (llm.c layernorm_forward/backward).
// Row statistics (mean, rstd) are kept in the compute type for backward. Parameter gradients
// are summed over fixed row chunks, then chunks in order: bitwise the same for any thread count.
#pragma once

#include <cstdint>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

/// out (N, C) = (x - mean) * rstd * weight + bias; weight, bias (C) may be null (1 and 0).
/// mean, rstd (N) are written for backward.
template <typename T>
void layer_norm_forward(T* out, compute_t<T>* mean, compute_t<T>* rstd, const T* x,
                        const T* weight, const T* bias, int64_t N, int64_t C, double eps);

/// The residual stream's add fused with the norm that reads it: sum = x + residual (rounded
/// to T, as a separate add stores it), then out = layer_norm(sum): one pass over the rows
/// instead of two. sum, out, x, residual are (N, C).
template <typename T>
void add_layer_norm_forward(T* sum, T* out, compute_t<T>* mean, compute_t<T>* rstd, const T* x,
                            const T* residual, const T* weight, const T* bias, int64_t N,
                            int64_t C, double eps);

/// dx (N, C), dweight (C), dbias (C) += gradients from dout (N, C); any of them may be null.
template <typename T>
void layer_norm_backward(T* dx, T* dweight, T* dbias, const T* dout, const T* x, const T* weight,
                         const compute_t<T>* mean, const compute_t<T>* rstd, int64_t N, int64_t C);

}  // namespace nabla::kernels::cpu
