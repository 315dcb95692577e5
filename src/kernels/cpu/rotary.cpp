// Rotary embeddings: one pass over (B, T, H) head vectors, pairs rotated in the compute type.
#include "nabla/kernels/cpu/rotary.h"

namespace nabla::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;
}

template <typename T>
void rotary_embedding(T* out, const T* x, const T* cos, const T* sin, int64_t B, int64_t T_,
                      int64_t H, int64_t D, int sign) {
  using C = compute_t<T>;
  const int64_t half = D / 2, rows = B * T_ * H;
  const C s = static_cast<C>(sign);
#pragma omp parallel for if (rows * D > kParallelMin) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = (r / H) % T_;
    const T* xr = x + r * D;
    T* o = out + r * D;
    const T* cr = cos + t * half;
    const T* sr = sin + t * half;
#pragma omp simd
    for (int64_t i = 0; i < half; ++i) {
      const C x0 = static_cast<C>(xr[2 * i]), x1 = static_cast<C>(xr[2 * i + 1]);
      const C c = static_cast<C>(cr[i]), sn = s * static_cast<C>(sr[i]);
      o[2 * i] = static_cast<T>(x0 * c - x1 * sn);
      o[2 * i + 1] = static_cast<T>(x0 * sn + x1 * c);
    }
  }
}

#define NABLA_INSTANTIATE(T)                                                                  \
  template void rotary_embedding<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t, \
                                    int64_t, int);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
