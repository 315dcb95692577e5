// SwiGLU forward and backward, element-wise in the compute type. f32 uses the branch-free exp
// of vec_math.h (as the silu op does) so that the loops vectorise.
#include "nabla/kernels/cpu/swiglu.h"

#include <cmath>
#include <type_traits>

#include "kernels/cpu/vec_math.h"

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 15;

template <typename C>
C sigmoid(C x) {
  if constexpr (std::is_same_v<C, float>) {
    return detail::sigmoid_f32(x);
  } else {
    return C(1) / (C(1) + std::exp(-x));
  }
}

}  // namespace

template <typename T>
void swiglu_forward(T* out, const T* a, const T* b, int64_t n) {
  using C = compute_t<T>;
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const C x = static_cast<C>(a[i]);
    out[i] = static_cast<T>(x * sigmoid(x) * static_cast<C>(b[i]));
  }
}

template <typename T>
void swiglu_backward(T* da, T* db, const T* dy, const T* a, const T* b, int64_t n) {
  using C = compute_t<T>;
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const C x = static_cast<C>(a[i]), d = static_cast<C>(dy[i]), s = sigmoid(x);
    if (da) da[i] = static_cast<T>(d * static_cast<C>(b[i]) * s * (C(1) + x * (C(1) - s)));
    if (db) db[i] = static_cast<T>(d * x * s);
  }
}

#define NABLA_INSTANTIATE(T)                                                       \
  template void swiglu_forward<T>(T*, const T*, const T*, int64_t);                \
  template void swiglu_backward<T>(T*, T*, const T*, const T*, const T*, int64_t);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
