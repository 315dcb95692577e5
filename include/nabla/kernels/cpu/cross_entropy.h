// Cross-entropy fused with log-softmax over logits laid out (N, C, D): class c of position
// (n, d) sits at (n * C + c) * D + d, which covers (N, C) with D = 1 and PyTorch's (N, C, d...).
// With label smoothing ls, a position's loss is (1 - ls) * nll + ls / C * sum_c(-log p_c), as in
// torch.nn.functional.cross_entropy. Positions whose target is ignore_index get loss 0.
#pragma once

#include <cstdint>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

/// loss (N*D) per position and lse (N*D), the log-sum-exp kept for backward. Targets (N*D)
/// must be ignore_index or in [0, C): the op checks.
template <typename T>
void cross_entropy_forward(compute_t<T>* loss, compute_t<T>* lse, const T* logits,
                           const int64_t* target, int64_t N, int64_t C, int64_t D,
                           int64_t ignore_index, double label_smoothing);

/// dlogits (N, C, D) += g_p (softmax - (1 - ls) onehot(target) - ls / C) per position p, with
/// g_p = dy[p * dy_stride] * scale; ignored positions get nothing.
template <typename T>
void cross_entropy_backward(T* dlogits, const T* dy, int64_t dy_stride, double scale,
                            const T* logits, const compute_t<T>* lse, const int64_t* target,
                            int64_t N, int64_t C, int64_t D, int64_t ignore_index,
                            double label_smoothing);

}  // namespace nabla::kernels::cpu
