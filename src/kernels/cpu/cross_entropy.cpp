// Cross-entropy fused with log-softmax, forward/backward over (N, C, D) logits (see header).
// Backward recomputes softmax from the saved log-sum-exp instead of storing probabilities.
#include "nabla/kernels/cpu/cross_entropy.h"

#include <algorithm>
#include <cmath>

namespace nabla::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;
}  // namespace

template <typename T>
void cross_entropy_forward(compute_t<T>* loss, compute_t<T>* lse, const T* logits,
                           const int64_t* target, int64_t N, int64_t C, int64_t D,
                           int64_t ignore_index, double label_smoothing) {
  using CT = compute_t<T>;
  const auto ls = static_cast<CT>(label_smoothing);
#pragma omp parallel for if (N * C * D > kParallelMin) schedule(static)
  for (int64_t p = 0; p < N * D; ++p) {
    const T* row = logits + (p / D) * C * D + p % D;  // class c at row[c * D]
    CT mx = static_cast<CT>(row[0]);
    for (int64_t c = 1; c < C; ++c) mx = std::max(mx, static_cast<CT>(row[c * D]));
    CT sum_exp = 0, sum_x = 0;
    for (int64_t c = 0; c < C; ++c) {
      const auto v = static_cast<CT>(row[c * D]);
      sum_exp += std::exp(v - mx);
      sum_x += v;
    }
    const CT l = mx + std::log(sum_exp);
    lse[p] = l;
    const int64_t t = target[p];
    if (t == ignore_index) {
      loss[p] = 0;
      continue;
    }
    const CT nll = l - static_cast<CT>(row[t * D]);
    // -sum_c log p_c = C * lse - sum_c x_c
    const CT smooth = static_cast<CT>(C) * l - sum_x;
    loss[p] = (CT(1) - ls) * nll + ls / static_cast<CT>(C) * smooth;
  }
}

template <typename T>
void cross_entropy_backward(T* dlogits, const T* dy, int64_t dy_stride, double scale,
                            const T* logits, const compute_t<T>* lse, const int64_t* target,
                            int64_t N, int64_t C, int64_t D, int64_t ignore_index,
                            double label_smoothing) {
  using CT = compute_t<T>;
  const auto ls = static_cast<CT>(label_smoothing);
  const CT off = ls / static_cast<CT>(C);
#pragma omp parallel for if (N * C * D > kParallelMin) schedule(static)
  for (int64_t p = 0; p < N * D; ++p) {
    const int64_t t = target[p];
    if (t == ignore_index) continue;
    const int64_t base = (p / D) * C * D + p % D;
    const T* row = logits + base;
    T* drow = dlogits + base;
    const CT g = static_cast<CT>(dy[p * dy_stride]) * static_cast<CT>(scale);
    const CT l = lse[p];
    for (int64_t c = 0; c < C; ++c) {
      CT d = std::exp(static_cast<CT>(row[c * D]) - l) - off;
      if (c == t) d -= CT(1) - ls;
      drow[c * D] = static_cast<T>(static_cast<CT>(drow[c * D]) + g * d);
    }
  }
}

#define NABLA_INSTANTIATE(T)                                                                    \
  template void cross_entropy_forward<T>(compute_t<T>*, compute_t<T>*, const T*, const int64_t*, \
                                         int64_t, int64_t, int64_t, int64_t, double);           \
  template void cross_entropy_backward<T>(T*, const T*, int64_t, double, const T*,               \
                                          const compute_t<T>*, const int64_t*, int64_t, int64_t, \
                                          int64_t, int64_t, double);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
