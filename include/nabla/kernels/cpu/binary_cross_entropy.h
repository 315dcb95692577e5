// Binary cross-entropy on probabilities over flat buffers, as PyTorch computes it: each log is
// clamped at -100 so that x = 0 or 1 gives a finite loss, and backward divides by
// max(x (1 - x), 1e-12). Gradient scaling as in mse_loss.h.
#pragma once

#include <cstdint>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

/// Index of the first element of x (n) outside [0, 1] (NaN included), or -1.
template <typename T>
int64_t first_outside_unit_interval(const T* x, int64_t n);

/// loss (n) = -(t log x + (1 - t) log(1 - x)), logs clamped at -100.
template <typename T>
void binary_cross_entropy_forward(compute_t<T>* loss, const T* x, const T* t, int64_t n);

/// dx (n) += g_i (x - t) / max(x (1 - x), 1e-12); dt (n) += g_i (log(1 - x) - log x), clamped
/// logs. Either may be null.
template <typename T>
void binary_cross_entropy_backward(T* dx, T* dt, const T* dy, int64_t dy_stride, double scale,
                                   const T* x, const T* t, int64_t n);

}  // namespace nabla::kernels::cpu
