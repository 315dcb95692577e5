// Layer norm forward and backward over rows. Statistics use two passes (mean, then centred
// variance) in the compute type: one-pass E[x^2] - E[x]^2 loses digits when |mean| >> std.
#include "nabla/kernels/cpu/layer_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 15;
// Row chunks for parameter gradients: fixed (not the thread count) so sums are deterministic.
constexpr int64_t kChunks = 32;

// One row: mean and rstd in the compute type, then out = (x - mean) * rstd * w + b.
template <typename T, typename CT>
void layer_norm_row(T* out, CT& mean, CT& rstd, const T* x, const T* w, const T* b, int64_t C,
                    double eps) {
  CT s = 0;
  for (int64_t c = 0; c < C; ++c) s += static_cast<CT>(x[c]);
  const CT mu = s / static_cast<CT>(C);
  CT v = 0;
  for (int64_t c = 0; c < C; ++c) {
    const CT d = static_cast<CT>(x[c]) - mu;
    v += d * d;
  }
  const CT rs = CT(1) / std::sqrt(v / static_cast<CT>(C) + static_cast<CT>(eps));
  for (int64_t c = 0; c < C; ++c) {
    CT y = (static_cast<CT>(x[c]) - mu) * rs;
    if (w) y *= static_cast<CT>(w[c]);
    if (b) y += static_cast<CT>(b[c]);
    out[c] = static_cast<T>(y);
  }
  mean = mu;
  rstd = rs;
}

// dx += rstd * (g - mean(g) - xhat * mean(g * xhat)) for one row, g = dout * weight; also the
// row's contributions to dweight (dout * xhat) and dbias (dout) into the chunk partials.
template <typename T, typename CT>
void layer_norm_backward_row(T* dx, CT* pw, CT* pb, const T* dy, const T* x, const T* w, CT mu,
                             CT rs, int64_t C) {
  CT sum_g = 0, sum_gx = 0;
  for (int64_t c = 0; c < C; ++c) {
    const CT xhat = (static_cast<CT>(x[c]) - mu) * rs;
    const CT g = static_cast<CT>(dy[c]) * (w ? static_cast<CT>(w[c]) : CT(1));
    sum_g += g;
    sum_gx += g * xhat;
    if (pw) pw[c] += static_cast<CT>(dy[c]) * xhat;
    if (pb) pb[c] += static_cast<CT>(dy[c]);
  }
  if (!dx) return;
  const CT mean_g = sum_g / static_cast<CT>(C), mean_gx = sum_gx / static_cast<CT>(C);
  for (int64_t c = 0; c < C; ++c) {
    const CT xhat = (static_cast<CT>(x[c]) - mu) * rs;
    const CT g = static_cast<CT>(dy[c]) * (w ? static_cast<CT>(w[c]) : CT(1));
    dx[c] = static_cast<T>(static_cast<CT>(dx[c]) + (g - mean_g - xhat * mean_gx) * rs);
  }
}

}  // namespace

template <typename T>
void layer_norm_forward(T* out, compute_t<T>* mean, compute_t<T>* rstd, const T* x,
                        const T* weight, const T* bias, int64_t N, int64_t C, double eps) {
#pragma omp parallel for if (N * C > kParallelMin) schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    layer_norm_row(out + n * C, mean[n], rstd[n], x + n * C, weight, bias, C, eps);
  }
}

template <typename T>
void add_layer_norm_forward(T* sum, T* out, compute_t<T>* mean, compute_t<T>* rstd, const T* x,
                            const T* residual, const T* weight, const T* bias, int64_t N,
                            int64_t C, double eps) {
  using CT = compute_t<T>;
#pragma omp parallel for if (N * C > kParallelMin) schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    T* h = sum + n * C;
    const T* xr = x + n * C;
    const T* rr = residual + n * C;
    // rounded to T before the statistics, as a separate add stores it
    for (int64_t c = 0; c < C; ++c) {
      h[c] = static_cast<T>(static_cast<CT>(xr[c]) + static_cast<CT>(rr[c]));
    }
    layer_norm_row(out + n * C, mean[n], rstd[n], h, weight, bias, C, eps);
  }
}

template <typename T>
void layer_norm_backward(T* dx, T* dweight, T* dbias, const T* dout, const T* x, const T* weight,
                         const compute_t<T>* mean, const compute_t<T>* rstd, int64_t N, int64_t C) {
  using CT = compute_t<T>;
  const int64_t chunks = std::max<int64_t>(1, std::min(N, kChunks));
  std::vector<CT> pw(dweight ? static_cast<size_t>(chunks * C) : 0, CT(0));
  std::vector<CT> pb(dbias ? static_cast<size_t>(chunks * C) : 0, CT(0));
#pragma omp parallel for if (N * C > kParallelMin) schedule(static)
  for (int64_t k = 0; k < chunks; ++k) {
    CT* pwk = dweight ? pw.data() + k * C : nullptr;
    CT* pbk = dbias ? pb.data() + k * C : nullptr;
    for (int64_t n = k * N / chunks; n < (k + 1) * N / chunks; ++n) {
      layer_norm_backward_row(dx ? dx + n * C : nullptr, pwk, pbk, dout + n * C, x + n * C, weight,
                              mean[n], rstd[n], C);
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    CT sw = 0, sb = 0;
    for (int64_t k = 0; k < chunks; ++k) {
      if (dweight) sw += pw[static_cast<size_t>(k * C + c)];
      if (dbias) sb += pb[static_cast<size_t>(k * C + c)];
    }
    if (dweight) dweight[c] = static_cast<T>(static_cast<CT>(dweight[c]) + sw);
    if (dbias) dbias[c] = static_cast<T>(static_cast<CT>(dbias[c]) + sb);
  }
}

#define NABLA_INSTANTIATE(T)                                                                    \
  template void layer_norm_forward<T>(T*, compute_t<T>*, compute_t<T>*, const T*, const T*,      \
                                      const T*, int64_t, int64_t, double);                      \
  template void add_layer_norm_forward<T>(T*, T*, compute_t<T>*, compute_t<T>*, const T*,      \
                                          const T*, const T*, const T*, int64_t, int64_t, double); \
  template void layer_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*,                 \
                                       const compute_t<T>*, const compute_t<T>*, int64_t, int64_t);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
