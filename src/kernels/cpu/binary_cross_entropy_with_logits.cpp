// Binary cross-entropy on logits, forward/backward (stable form, see the header).
#include "nabla/kernels/cpu/binary_cross_entropy_with_logits.h"

#include <algorithm>
#include <cmath>

namespace nabla::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;
}  // namespace

template <typename T>
void binary_cross_entropy_with_logits_forward(compute_t<T>* loss, const T* x, const T* t,
                                              int64_t n) {
  using CT = compute_t<T>;
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const auto xi = static_cast<CT>(x[i]), ti = static_cast<CT>(t[i]);
    loss[i] = (CT(1) - ti) * xi + std::max(-xi, CT(0)) + std::log1p(std::exp(-std::abs(xi)));
  }
}

template <typename T>
void binary_cross_entropy_with_logits_backward(T* dx, T* dt, const T* dy, int64_t dy_stride,
                                               double scale, const T* x, const T* t, int64_t n) {
  using CT = compute_t<T>;
  const auto s = static_cast<CT>(scale);
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const auto xi = static_cast<CT>(x[i]), ti = static_cast<CT>(t[i]);
    const CT g = static_cast<CT>(dy[i * dy_stride]) * s;
    if (dx) {
      const CT sig = CT(1) / (CT(1) + std::exp(-xi));
      dx[i] = static_cast<T>(static_cast<CT>(dx[i]) + g * (sig - ti));
    }
    if (dt) dt[i] = static_cast<T>(static_cast<CT>(dt[i]) - g * xi);
  }
}

#define NABLA_INSTANTIATE(T)                                                               \
  template void binary_cross_entropy_with_logits_forward<T>(compute_t<T>*, const T*,       \
                                                            const T*, int64_t);            \
  template void binary_cross_entropy_with_logits_backward<T>(T*, T*, const T*, int64_t,    \
                                                             double, const T*, const T*,   \
                                                             int64_t);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
