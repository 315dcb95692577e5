// Softmax family along the middle axis of (outer, R, inner). A row is processed in three
// vectorised passes (max, exp + sum, scale); f32 uses a polynomial exp (AVX2 intrinsics where
// available; glibc's expf is not vectorised without -ffast-math), f64 uses std::exp.
#include "nabla/kernels/cpu/softmax.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "nabla/core/bf16.h"

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kParallelWork = 1 << 15;

// exp(x) for f32 with ~2 ulp error: x = n ln2 + r, |r| <= ln2 / 2, degree-6 polynomial for
// exp(r) (Cephes expf coefficients), 2^n through the exponent bits. exp(-inf) = 0 exactly
// (masked attention scores), NaN stays NaN.
inline float exp_f32(float x) {
  const float xc = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::floor(xc * 1.44269504088896341f + 0.5f);
  const float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  const float v = p * scale;
  const float big = x > 88.0f ? std::numeric_limits<float>::infinity() : v;
  return x < -87.0f ? 0.0f : (x != x ? x : big);
}

#if defined(__AVX2__) && defined(__FMA__)
// exp_f32 on 8 lanes. Written with intrinsics because GCC 12 does not vectorise the exponent
// bit trick of the scalar version (measured 5x slower softmax than PyTorch without this).
inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.0f), hi = _mm256_set1_ps(88.0f);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 n = _mm256_floor_ps(
      _mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 v = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  v = _mm256_blendv_ps(v, _mm256_set1_ps(std::numeric_limits<float>::infinity()),
                       _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
  v = _mm256_blendv_ps(v, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
  return _mm256_blendv_ps(v, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}
#endif

// sum_i exp(x[i] - m), also stored to y[i] unless y is null. Lanes are added in a fixed order.
inline float exp_sum(float* y, const float* x, int64_t R, float m) {
  int64_t i = 0;
  float s = 0;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 acc = _mm256_setzero_ps();
  const __m256 mv = _mm256_set1_ps(m);
  for (; i + 8 <= R; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
    if (y != nullptr) _mm256_storeu_ps(y + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (float l : lanes) s += l;
#endif
  for (; i < R; ++i) {
    const float e = exp_f32(x[i] - m);
    if (y != nullptr) y[i] = e;
    s += e;
  }
  return s;
}

inline double exp_sum(double* y, const double* x, int64_t R, double m) {
  double s = 0;
  for (int64_t i = 0; i < R; ++i) {
    const double e = std::exp(x[i] - m);
    if (y != nullptr) y[i] = e;
    s += e;
  }
  return s;
}

template <typename C>
C exp_c(C x) {
  if constexpr (std::is_same_v<C, float>) {
    return exp_f32(x);
  } else {
    return std::exp(x);
  }
}

template <typename T>
using compute = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename C>
C row_max(const C* x, int64_t R) {
  C m = -std::numeric_limits<C>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < R; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// y = softmax(x) or log_softmax(x) of one contiguous row; y may alias x.
template <typename C>
void softmax_row(C* y, const C* x, int64_t R, bool log) {
  const C m = row_max(x, R);
  if (log) {
    const C ls = m + std::log(exp_sum(static_cast<C*>(nullptr), x, R, m));
#pragma omp simd
    for (int64_t i = 0; i < R; ++i) y[i] = x[i] - ls;
    return;
  }
  const C inv = C(1) / exp_sum(y, x, R, m);
#pragma omp simd
  for (int64_t i = 0; i < R; ++i) y[i] *= inv;
}

template <typename C>
C logsumexp_row(const C* x, int64_t R) {
  const C m = row_max(x, R);
  if (std::isinf(m)) return m;  // all -inf gives -inf; any +inf gives +inf
  return m + std::log(exp_sum(static_cast<C*>(nullptr), x, R, m));
}

// Runs fn(o, i, first, stride, buf) over every row (o, i) in parallel; buf is a per-thread
// scratch of n_buf * R compute-type values for rows that must be gathered.
template <typename C, typename Fn>
void for_each_row(int64_t outer, int64_t R, int64_t inner, int n_buf, Fn&& fn) {
#pragma omp parallel if (outer * R * inner > kParallelWork)
  {
    std::vector<C> buf(static_cast<size_t>(n_buf * R));
#pragma omp for schedule(static)
    for (int64_t k = 0; k < outer * inner; ++k) {
      const int64_t o = k / inner, i = k % inner;
      fn(o, i, o * R * inner + i, inner, buf.data());
    }
  }
}

template <typename C, typename T>
void gather(C* dst, const T* src, int64_t R, int64_t stride) {
  for (int64_t r = 0; r < R; ++r) dst[r] = static_cast<C>(src[r * stride]);
}

}  // namespace

template <typename T>
void softmax_forward(T* y, const T* x, int64_t outer, int64_t R, int64_t inner, bool log) {
  using C = compute<T>;
  constexpr bool direct = std::is_same_v<T, C>;
  for_each_row<C>(outer, R, inner, direct && inner == 1 ? 0 : 1,
                  [&](int64_t, int64_t, int64_t first, int64_t stride, C* buf) {
    if constexpr (direct) {
      if (stride == 1) {
        softmax_row<C>(y + first, x + first, R, log);
        return;
      }
    }
    gather(buf, x + first, R, stride);
    softmax_row<C>(buf, buf, R, log);
    for (int64_t r = 0; r < R; ++r) y[first + r * stride] = static_cast<T>(buf[r]);
  });
}

template <typename T>
void softmax_backward(T* dx, const T* dy, const T* y, int64_t outer, int64_t R, int64_t inner,
                      bool log) {
  using C = compute<T>;
  for_each_row<C>(outer, R, inner, 2, [&](int64_t, int64_t, int64_t first, int64_t stride, C* buf) {
    C* g = buf;
    C* v = buf + R;
    gather(g, dy + first, R, stride);
    gather(v, y + first, R, stride);
    C s = 0;
    if (log) {
#pragma omp simd reduction(+ : s)
      for (int64_t r = 0; r < R; ++r) s += g[r];
#pragma omp simd
      for (int64_t r = 0; r < R; ++r) g[r] = g[r] - exp_c(v[r]) * s;
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t r = 0; r < R; ++r) s += g[r] * v[r];
#pragma omp simd
      for (int64_t r = 0; r < R; ++r) g[r] = v[r] * (g[r] - s);
    }
    for (int64_t r = 0; r < R; ++r) {
      T& d = dx[first + r * stride];
      d = static_cast<T>(static_cast<C>(d) + g[r]);
    }
  });
}

template <typename T>
void logsumexp_forward(T* out, const T* x, int64_t outer, int64_t R, int64_t inner) {
  using C = compute<T>;
  for_each_row<C>(outer, R, inner, 1, [&](int64_t o, int64_t i, int64_t first, int64_t stride,
                                          C* buf) {
    gather(buf, x + first, R, stride);
    out[o * inner + i] = static_cast<T>(logsumexp_row(buf, R));
  });
}

template <typename T>
void logsumexp_backward(T* dx, const T* dy, const T* x, const T* out, int64_t outer, int64_t R,
                        int64_t inner) {
  using C = compute<T>;
  for_each_row<C>(outer, R, inner, 0, [&](int64_t o, int64_t i, int64_t first, int64_t stride,
                                          C*) {
    const C g = static_cast<C>(dy[o * inner + i]);
    const C l = static_cast<C>(out[o * inner + i]);
    for (int64_t r = 0; r < R; ++r) {
      T& d = dx[first + r * stride];
      d = static_cast<T>(static_cast<C>(d) + g * exp_c(static_cast<C>(x[first + r * stride]) - l));
    }
  });
}

#define NABLA_SOFTMAX(T)                                                                    \
  template void softmax_forward<T>(T*, const T*, int64_t, int64_t, int64_t, bool);          \
  template void softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, bool); \
  template void logsumexp_forward<T>(T*, const T*, int64_t, int64_t, int64_t);              \
  template void logsumexp_backward<T>(T*, const T*, const T*, const T*, int64_t, int64_t,   \
                                      int64_t);
NABLA_SOFTMAX(float)
NABLA_SOFTMAX(double)
NABLA_SOFTMAX(BFloat16)
#undef NABLA_SOFTMAX

}  // namespace nabla::kernels::cpu
