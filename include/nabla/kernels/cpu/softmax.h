// Softmax, log-softmax and logsumexp along the middle axis of a contiguous (outer, R, inner)
// buffer (the op layer moves any dim there). Max-subtracted, so large inputs do not overflow;
// rows of -inf give -inf logsumexp and NaN softmax, as in PyTorch. T is float, double or
// BFloat16 (computed in f32). The last-dim case (inner == 1) is vectorised, threads over rows.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

/// y = softmax(x) along R, or log_softmax(x) when log.
template <typename T>
void softmax_forward(T* y, const T* x, int64_t outer, int64_t R, int64_t inner, bool log);
/// dx += softmax: y * (dy - sum_r dy * y); log_softmax: dy - exp(y) * sum_r dy.
template <typename T>
void softmax_backward(T* dx, const T* dy, const T* y, int64_t outer, int64_t R, int64_t inner,
                      bool log);
/// out (outer, inner) = log sum_r exp(x).
template <typename T>
void logsumexp_forward(T* out, const T* x, int64_t outer, int64_t R, int64_t inner);
/// dx += dy * exp(x - out); dy, out: (outer, inner).
template <typename T>
void logsumexp_backward(T* dx, const T* dy, const T* x, const T* out, int64_t outer, int64_t R,
                        int64_t inner);

}  // namespace nabla::kernels::cpu
