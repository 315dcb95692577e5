// RMS norm forward and backward over rows, in the compute type.
#include "nabla/kernels/cpu/rms_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 15;
constexpr int64_t kChunks = 32;  // fixed row chunks for the weight gradient (determinism)

// dx += rstd * (g - xhat * mean(g * xhat)) for one row, g = dout * weight, xhat = x * rstd;
// the row's dweight contribution (dout * xhat) goes into the chunk partial pw.
template <typename T, typename CT>
void rms_norm_backward_row(T* dx, CT* pw, const T* dy, const T* x, const T* w, CT rs, int64_t C) {
  CT sum_gx = 0;
  for (int64_t c = 0; c < C; ++c) {
    const CT xhat = static_cast<CT>(x[c]) * rs;
    const CT g = static_cast<CT>(dy[c]) * (w ? static_cast<CT>(w[c]) : CT(1));
    sum_gx += g * xhat;
    if (pw) pw[c] += static_cast<CT>(dy[c]) * xhat;
  }
  if (!dx) return;
  const CT mean_gx = sum_gx / static_cast<CT>(C);
  for (int64_t c = 0; c < C; ++c) {
    const CT xhat = static_cast<CT>(x[c]) * rs;
    const CT g = static_cast<CT>(dy[c]) * (w ? static_cast<CT>(w[c]) : CT(1));
    dx[c] = static_cast<T>(static_cast<CT>(dx[c]) + (g - xhat * mean_gx) * rs);
  }
}

}  // namespace

template <typename T>
void rms_norm_forward(T* out, compute_t<T>* rstd, const T* x, const T* weight, int64_t N,
                      int64_t C, double eps) {
  using CT = compute_t<T>;
#pragma omp parallel for if (N * C > kParallelMin) schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    CT ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += static_cast<CT>(xr[c]) * static_cast<CT>(xr[c]);
    const CT rs = CT(1) / std::sqrt(ss / static_cast<CT>(C) + static_cast<CT>(eps));
    T* o = out + n * C;
    for (int64_t c = 0; c < C; ++c) {
      CT y = static_cast<CT>(xr[c]) * rs;
      if (weight) y *= static_cast<CT>(weight[c]);
      o[c] = static_cast<T>(y);
    }
    rstd[n] = rs;
  }
}

template <typename T>
void rms_norm_backward(T* dx, T* dweight, const T* dout, const T* x, const T* weight,
                       const compute_t<T>* rstd, int64_t N, int64_t C) {
  using CT = compute_t<T>;
  const int64_t chunks = std::max<int64_t>(1, std::min(N, kChunks));
  std::vector<CT> pw(dweight ? static_cast<size_t>(chunks * C) : 0, CT(0));
#pragma omp parallel for if (N * C > kParallelMin) schedule(static)
  for (int64_t k = 0; k < chunks; ++k) {
    CT* pwk = dweight ? pw.data() + k * C : nullptr;
    for (int64_t n = k * N / chunks; n < (k + 1) * N / chunks; ++n) {
      rms_norm_backward_row(dx ? dx + n * C : nullptr, pwk, dout + n * C, x + n * C, weight,
                            rstd[n], C);
    }
  }
  if (!dweight) return;
  for (int64_t c = 0; c < C; ++c) {
    CT sw = 0;
    for (int64_t k = 0; k < chunks; ++k) sw += pw[static_cast<size_t>(k * C + c)];
    dweight[c] = static_cast<T>(static_cast<CT>(dweight[c]) + sw);
  }
}

#define NABLA_INSTANTIATE(T)                                                                    \
  template void rms_norm_forward<T>(T*, compute_t<T>*, const T*, const T*, int64_t, int64_t,     \
                                    double);                                                    \
  template void rms_norm_backward<T>(T*, T*, const T*, const T*, const T*, const compute_t<T>*, \
                                     int64_t, int64_t);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
