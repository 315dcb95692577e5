// Gradient norm and scale for clip_grad_norm_. The norm is accumulated in double over fixed
// blocks of kBlock elements (the split does not depend on the thread count) and the block
// results are combined in index order, which makes the total bitwise deterministic.
#include "nabla/kernels/cpu/clip.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kBlock = 1 << 13;
constexpr int64_t kParallelThreshold = 1 << 15;

template <typename T>
double block_pow_sum(const T* x, int64_t n, double p) {
  double acc = 0.0;
  if (p == 2.0) {
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; ++i) {
      const auto d = static_cast<double>(x[i]);
      acc += d * d;
    }
  } else if (p == 1.0) {
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; ++i) acc += std::abs(static_cast<double>(x[i]));
  } else {
    for (int64_t i = 0; i < n; ++i) acc += std::pow(std::abs(static_cast<double>(x[i])), p);
  }
  return acc;
}

template <typename T>
double block_abs_max(const T* x, int64_t n) {
  double best = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::abs(static_cast<double>(x[i]));
    if (std::isnan(a)) return a;
    best = std::max(best, a);
  }
  return best;
}

template <typename T>
double pow_sum(const T* x, int64_t n, double p) {
  const bool is_inf = std::isinf(p);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(blocks));
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * kBlock;
    const int64_t len = std::min(kBlock, n - begin);
    partial[static_cast<size_t>(b)] =
        is_inf ? block_abs_max(x + begin, len) : block_pow_sum(x + begin, len, p);
  }
  double total = 0.0;
  for (const double v : partial) {
    if (is_inf) {
      total = std::isnan(v) || std::isnan(total) ? std::numeric_limits<double>::quiet_NaN()
                                                 : std::max(total, v);
    } else {
      total += v;
    }
  }
  return total;
}

template <typename T, typename S>
void scale(T* x, int64_t n, double coef) {
  const auto c = static_cast<S>(coef);
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<T>(static_cast<S>(x[i]) * c);
}

}  // namespace

double grad_norm_pow_sum(const float* x, int64_t n, double p) { return pow_sum(x, n, p); }
double grad_norm_pow_sum(const double* x, int64_t n, double p) { return pow_sum(x, n, p); }
double grad_norm_pow_sum(const BFloat16* x, int64_t n, double p) { return pow_sum(x, n, p); }

void grad_scale(float* x, int64_t n, double coef) { scale<float, float>(x, n, coef); }
void grad_scale(double* x, int64_t n, double coef) { scale<double, double>(x, n, coef); }
void grad_scale(BFloat16* x, int64_t n, double coef) { scale<BFloat16, float>(x, n, coef); }

}  // namespace nabla::kernels::cpu
