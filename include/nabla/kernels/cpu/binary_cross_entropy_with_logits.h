// Binary cross-entropy on logits, fused with the sigmoid and stable for any x:
// loss = (1 - t) x + max(-x, 0) + log1p(exp(-|x|)). Gradient scaling as in mse_loss.h.
#pragma once

#include <cstdint>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

/// loss (n) from logits x (n) and targets t (n).
template <typename T>
void binary_cross_entropy_with_logits_forward(compute_t<T>* loss, const T* x, const T* t,
                                              int64_t n);

/// dx (n) += g_i (sigmoid(x) - t); dt (n) += -g_i x. Either may be null.
template <typename T>
void binary_cross_entropy_with_logits_backward(T* dx, T* dt, const T* dy, int64_t dy_stride,
                                               double scale, const T* x, const T* t, int64_t n);

}  // namespace nabla::kernels::cpu
