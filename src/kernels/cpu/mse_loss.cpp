// Mean squared error forward/backward, element by element in the compute type.
#include "nabla/kernels/cpu/mse_loss.h"

namespace nabla::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;
}  // namespace

template <typename T>
void mse_loss_forward(compute_t<T>* loss, const T* x, const T* t, int64_t n) {
  using CT = compute_t<T>;
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const CT d = static_cast<CT>(x[i]) - static_cast<CT>(t[i]);
    loss[i] = d * d;
  }
}

template <typename T>
void mse_loss_backward(T* dx, T* dt, const T* dy, int64_t dy_stride, double scale, const T* x,
                       const T* t, int64_t n) {
  using CT = compute_t<T>;
  const auto s = static_cast<CT>(2.0 * scale);
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const CT d = (static_cast<CT>(x[i]) - static_cast<CT>(t[i])) * static_cast<CT>(dy[i * dy_stride]) * s;
    if (dx) dx[i] = static_cast<T>(static_cast<CT>(dx[i]) + d);
    if (dt) dt[i] = static_cast<T>(static_cast<CT>(dt[i]) - d);
  }
}

#define NABLA_INSTANTIATE(T)                                                                 \
  template void mse_loss_forward<T>(compute_t<T>*, const T*, const T*, int64_t);             \
  template void mse_loss_backward<T>(T*, T*, const T*, int64_t, double, const T*, const T*, \
                                     int64_t);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
