// Mean squared error over flat buffers. Losses are per element in the compute type (the op
// reduces them); backward scales the upstream gradient g_i = dy[i * dy_stride] * scale, where
// dy_stride 0 broadcasts a reduced loss's scalar gradient.
#pragma once

#include <cstdint>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

/// loss (n) = (x - t)^2.
template <typename T>
void mse_loss_forward(compute_t<T>* loss, const T* x, const T* t, int64_t n);

/// dx (n) += 2 (x - t) g_i, dt (n) -= 2 (x - t) g_i; either may be null.
template <typename T>
void mse_loss_backward(T* dx, T* dt, const T* dy, int64_t dy_stride, double scale, const T* x,
                       const T* t, int64_t n);

}  // namespace nabla::kernels::cpu
