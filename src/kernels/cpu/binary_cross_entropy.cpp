// Binary cross-entropy forward/backward on probabilities (PyTorch's clamping, see the header).
#include "nabla/kernels/cpu/binary_cross_entropy.h"

#include <algorithm>
#include <cmath>

namespace nabla::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;

// log clamped at -100: PyTorch's choice so that a saturated prediction gives a finite loss.
template <typename CT>
CT clamped_log(CT v) {
  return std::max(std::log(v), CT(-100));
}
}  // namespace

template <typename T>
int64_t first_outside_unit_interval(const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const auto v = static_cast<compute_t<T>>(x[i]);
    if (!(v >= 0 && v <= 1)) return i;
  }
  return -1;
}

template <typename T>
void binary_cross_entropy_forward(compute_t<T>* loss, const T* x, const T* t, int64_t n) {
  using CT = compute_t<T>;
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const auto xi = static_cast<CT>(x[i]), ti = static_cast<CT>(t[i]);
    loss[i] = -(ti * clamped_log(xi) + (CT(1) - ti) * clamped_log(CT(1) - xi));
  }
}

template <typename T>
void binary_cross_entropy_backward(T* dx, T* dt, const T* dy, int64_t dy_stride, double scale,
                                   const T* x, const T* t, int64_t n) {
  using CT = compute_t<T>;
  const auto s = static_cast<CT>(scale);
  constexpr CT kEps = CT(1e-12);  // PyTorch's EPSILON in binary_cross_entropy_backward
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const auto xi = static_cast<CT>(x[i]), ti = static_cast<CT>(t[i]);
    const CT g = static_cast<CT>(dy[i * dy_stride]) * s;
    if (dx) {
      const CT d = g * (xi - ti) / std::max((CT(1) - xi) * xi, kEps);
      dx[i] = static_cast<T>(static_cast<CT>(dx[i]) + d);
    }
    if (dt) {
      const CT d = g * (clamped_log(CT(1) - xi) - clamped_log(xi));
      dt[i] = static_cast<T>(static_cast<CT>(dt[i]) + d);
    }
  }
}

#define NABLA_INSTANTIATE(T)                                                                  \
  template int64_t first_outside_unit_interval<T>(const T*, int64_t);                          \
  template void binary_cross_entropy_forward<T>(compute_t<T>*, const T*, const T*, int64_t);   \
  template void binary_cross_entropy_backward<T>(T*, T*, const T*, int64_t, double, const T*, \
                                                 const T*, int64_t);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
