// Cross-entropy fused with log-softmax, forward/backward over (N, C, D) logits (see header).
// Backward recomputes softmax from the saved log-sum-exp instead of storing probabilities.
#include "nabla/kernels/cpu/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/cpu/vec_math.h"

namespace nabla::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;

// Max, sum of exp(x - max) and sum of x over one row's C classes (class c at row[c * D]).
template <typename T>
void row_stats(const T* row, int64_t C, int64_t D, compute_t<T>& mx, compute_t<T>& sum_exp,
               compute_t<T>& sum_x) {
  using CT = compute_t<T>;
  mx = static_cast<CT>(row[0]);
  sum_exp = 0;
  sum_x = 0;
  if constexpr (std::is_same_v<T, float>) {
    // A language model's logits: contiguous f32 rows of a large vocabulary, where libm's
    // scalar expf took as long as the rest of the loss. exp_f32 vectorises.
    if (D == 1) {
#pragma omp simd reduction(max : mx)
      for (int64_t c = 1; c < C; ++c) mx = row[c] > mx ? row[c] : mx;
#pragma omp simd reduction(+ : sum_exp, sum_x)
      for (int64_t c = 0; c < C; ++c) {
        sum_exp += detail::exp_f32(row[c] - mx);
        sum_x += row[c];
      }
      return;
    }
  }
  for (int64_t c = 1; c < C; ++c) mx = std::max(mx, static_cast<CT>(row[c * D]));
  for (int64_t c = 0; c < C; ++c) {
    const auto v = static_cast<CT>(row[c * D]);
    sum_exp += std::exp(v - mx);
    sum_x += v;
  }
}
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
    CT mx, sum_exp, sum_x;
    row_stats(row, C, D, mx, sum_exp, sum_x);
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
    if constexpr (std::is_same_v<T, float>) {
      if (D == 1) {  // contiguous f32 rows: vectorised exp, the target's class fixed after
        const float at_t = drow[t];
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) drow[c] += g * (detail::exp_f32(row[c] - l) - off);
        drow[t] = at_t + g * ((detail::exp_f32(row[t] - l) - off) - (1.0f - ls));
        continue;
      }
    }
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
