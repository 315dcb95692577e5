// Negative log-likelihood over log-probabilities laid out (N, C, D) as in cross_entropy.h:
// a position's loss is -log_probs[target]; positions whose target is ignore_index get 0.
#pragma once

#include <cstdint>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

/// loss (N*D) per position; targets (N*D) must be ignore_index or in [0, C) (the op checks).
template <typename T>
void nll_loss_forward(compute_t<T>* loss, const T* log_probs, const int64_t* target, int64_t N,
                      int64_t C, int64_t D, int64_t ignore_index);

/// dlog_probs (N, C, D) at each position's target -= g_p = dy[p * dy_stride] * scale.
template <typename T>
void nll_loss_backward(T* dlog_probs, const T* dy, int64_t dy_stride, double scale,
                       const int64_t* target, int64_t N, int64_t C, int64_t D,
                       int64_t ignore_index);

}  // namespace nabla::kernels::cpu
