// Negative log-likelihood forward/backward over (N, C, D) log-probabilities (see header).
#include "nabla/kernels/cpu/nll_loss.h"

namespace nabla::kernels::cpu {

template <typename T>
void nll_loss_forward(compute_t<T>* loss, const T* log_probs, const int64_t* target, int64_t N,
                      int64_t C, int64_t D, int64_t ignore_index) {
  using CT = compute_t<T>;
  for (int64_t p = 0; p < N * D; ++p) {
    const int64_t t = target[p];
    loss[p] = t == ignore_index ? CT(0)
                                : -static_cast<CT>(log_probs[((p / D) * C + t) * D + p % D]);
  }
}

template <typename T>
void nll_loss_backward(T* dlog_probs, const T* dy, int64_t dy_stride, double scale,
                       const int64_t* target, int64_t N, int64_t C, int64_t D,
                       int64_t ignore_index) {
  using CT = compute_t<T>;
  for (int64_t p = 0; p < N * D; ++p) {
    const int64_t t = target[p];
    if (t == ignore_index) continue;
    T& d = dlog_probs[((p / D) * C + t) * D + p % D];
    d = static_cast<T>(static_cast<CT>(d) - static_cast<CT>(dy[p * dy_stride]) * static_cast<CT>(scale));
  }
}

#define NABLA_INSTANTIATE(T)                                                                \
  template void nll_loss_forward<T>(compute_t<T>*, const T*, const int64_t*, int64_t, int64_t, \
                                    int64_t, int64_t);                                      \
  template void nll_loss_backward<T>(T*, const T*, int64_t, double, const int64_t*, int64_t,  \
                                     int64_t, int64_t, int64_t);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
