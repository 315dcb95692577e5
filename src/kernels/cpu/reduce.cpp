// Reductions along the middle axis of (outer, R, inner). Sums accumulate in double: vectorised
// with a fixed lane order, long rows cut into fixed 32K-element chunks whose partial sums are
// added in order, so the result does not depend on the thread count.
#include "nabla/kernels/cpu/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "nabla/core/bf16.h"

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kParallelWork = 1 << 15;  // elements below which threads cost more than they save
constexpr int64_t kChunk = 1 << 15;         // fixed split of long rows (determinism)
constexpr int64_t kBlock = 256;             // inner columns accumulated together

template <typename Acc, typename T>
Acc load(const T* p, int64_t i) {
  if constexpr (std::is_same_v<T, BFloat16>) {
    return static_cast<Acc>(static_cast<float>(p[i]));
  } else {
    return static_cast<Acc>(p[i]);
  }
}

template <typename O, typename V>
O store(V v) {
  if constexpr (std::is_same_v<O, BFloat16>) {
    return BFloat16(static_cast<float>(v));
  } else {
    return static_cast<O>(v);
  }
}

template <typename C>
bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

// Sum of n contiguous elements, serially, in Acc.
template <typename Acc, typename T>
Acc row_sum(const T* p, int64_t n) {
  Acc acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += load<Acc>(p, i);
  return acc;
}

// Sum of a long row: fixed chunks summed in parallel, partials added in order.
template <typename Acc, typename T>
Acc long_sum(const T* p, int64_t n) {
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
  if (nchunks <= 1) return row_sum<Acc>(p, n);
  std::vector<Acc> part(static_cast<size_t>(nchunks));
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < nchunks; ++c) {
    part[static_cast<size_t>(c)] = row_sum<Acc>(p + c * kChunk, std::min(kChunk, n - c * kChunk));
  }
  Acc s = 0;
  for (Acc v : part) s += v;
  return s;
}

template <typename Acc, typename T, typename O>
void sum_impl(O* out, const T* in, int64_t outer, int64_t R, int64_t inner, double scale) {
  const bool par = outer * R * inner > kParallelWork;
  if (inner == 1) {
    if (outer < 4) {
      for (int64_t o = 0; o < outer; ++o) out[o] = store<O>(scale * long_sum<Acc>(in + o * R, R));
      return;
    }
#pragma omp parallel for if (par) schedule(static)
    for (int64_t o = 0; o < outer; ++o) out[o] = store<O>(scale * row_sum<Acc>(in + o * R, R));
    return;
  }
  const int64_t nblk = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for if (par) schedule(static)
  for (int64_t task = 0; task < outer * nblk; ++task) {
    const int64_t o = task / nblk, j0 = (task % nblk) * kBlock;
    const int64_t len = std::min(kBlock, inner - j0);
    Acc acc[kBlock] = {};
    for (int64_t r = 0; r < R; ++r) {
      const T* p = in + (o * R + r) * inner + j0;
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) acc[j] += load<Acc>(p, j);
    }
    for (int64_t j = 0; j < len; ++j) out[o * inner + j0 + j] = store<O>(scale * acc[j]);
  }
}

// Calls fn(o, i, first, stride) for every output (o, i); the inputs it reduces are at
// first + r * stride for r < R.
template <typename Fn>
void for_each_output(int64_t outer, int64_t R, int64_t inner, Fn&& fn) {
#pragma omp parallel for if (outer * R * inner > kParallelWork) schedule(static)
  for (int64_t k = 0; k < outer * inner; ++k) {
    const int64_t o = k / inner, i = k % inner;
    fn(o, i, o * R * inner + i, inner);
  }
}

}  // namespace

template <typename T>
void sum_forward(T* out, const T* in, int64_t outer, int64_t R, int64_t inner, double scale) {
  sum_impl<double>(out, in, outer, R, inner, scale);
}

template <typename T>
void sum_integer_forward(int64_t* out, const T* in, int64_t outer, int64_t R, int64_t inner) {
  sum_impl<int64_t>(out, in, outer, R, inner, 1.0);
}

template <typename T>
void var_forward(T* out, T* mean, const T* in, int64_t outer, int64_t R, int64_t inner,
                 int64_t correction) {
  const double denom = static_cast<double>(std::max<int64_t>(R - correction, 0));
  for_each_output(outer, R, inner, [&](int64_t o, int64_t i, int64_t first, int64_t stride) {
    double s = 0;
    for (int64_t r = 0; r < R; ++r) s += load<double>(in, first + r * stride);
    const double m = s / static_cast<double>(R);
    double ss = 0;
    for (int64_t r = 0; r < R; ++r) {
      const double d = load<double>(in, first + r * stride) - m;
      ss += d * d;
    }
    out[o * inner + i] = store<T>(ss / denom);
    mean[o * inner + i] = store<T>(m);
  });
}

template <typename T>
void var_backward(T* dx, const T* dy, const T* x, const T* mean, int64_t outer, int64_t R,
                  int64_t inner, int64_t correction) {
  const double denom = static_cast<double>(std::max<int64_t>(R - correction, 0));
  for_each_output(outer, R, inner, [&](int64_t o, int64_t i, int64_t first, int64_t stride) {
    const double g = 2.0 * load<double>(dy, o * inner + i) / denom;
    const double m = load<double>(mean, o * inner + i);
    for (int64_t r = 0; r < R; ++r) {
      const int64_t k = first + r * stride;
      dx[k] = store<T>(load<double>(dx, k) + g * (load<double>(x, k) - m));
    }
  });
}

template <typename T>
void max_forward(T* values, int64_t* indices, const T* in, int64_t outer, int64_t R,
                 int64_t inner, bool is_min) {
  using C = std::conditional_t<std::is_same_v<T, BFloat16>, float, T>;
  for_each_output(outer, R, inner, [&](int64_t o, int64_t i, int64_t first, int64_t stride) {
    C best = load<C>(in, first);
    int64_t at = 0;
    for (int64_t r = 1; r < R && !is_nan(best); ++r) {
      const C v = load<C>(in, first + r * stride);
      if (is_nan(v) || (is_min ? v < best : v > best)) {
        best = v;
        at = r;
      }
    }
    if (values != nullptr) values[o * inner + i] = store<T>(best);
    indices[o * inner + i] = at;
  });
}

template <typename T>
void index_backward(T* dx, const T* dy, const int64_t* index, int64_t outer, int64_t R,
                    int64_t inner) {
  for_each_output(outer, R, inner, [&](int64_t o, int64_t i, int64_t first, int64_t stride) {
    const int64_t k = first + index[o * inner + i] * stride;
    dx[k] = store<T>(load<double>(dx, k) + load<double>(dy, o * inner + i));
  });
}

template <typename T>
void norm_forward(T* out, const T* in, int64_t outer, int64_t R, int64_t inner, double p) {
  for_each_output(outer, R, inner, [&](int64_t o, int64_t i, int64_t first, int64_t stride) {
    double acc = 0;
    for (int64_t r = 0; r < R; ++r) {
      const double a = std::abs(load<double>(in, first + r * stride));
      if (std::isinf(p)) {
        acc = (std::isnan(a) || a > acc) ? a : acc;
      } else if (p == 1.0) {
        acc += a;
      } else if (p == 2.0) {
        acc += a * a;
      } else {
        acc += std::pow(a, p);
      }
    }
    const double v = std::isinf(p) || p == 1.0 ? acc : (p == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / p));
    out[o * inner + i] = store<T>(v);
  });
}

template <typename T>
void norm_backward(T* dx, const T* dy, const T* x, const T* norm, int64_t outer, int64_t R,
                   int64_t inner, double p) {
  for_each_output(outer, R, inner, [&](int64_t o, int64_t i, int64_t first, int64_t stride) {
    const double g = load<double>(dy, o * inner + i);
    const double n = load<double>(norm, o * inner + i);
    int64_t ties = 0;
    if (std::isinf(p)) {
      for (int64_t r = 0; r < R; ++r) ties += std::abs(load<double>(x, first + r * stride)) == n;
    }
    for (int64_t r = 0; r < R; ++r) {
      const int64_t k = first + r * stride;
      const double v = load<double>(x, k);
      const double sgn = static_cast<double>((v > 0) - (v < 0));
      double d = 0;
      if (std::isinf(p)) {
        d = std::abs(v) == n ? sgn / static_cast<double>(ties) : 0.0;
      } else if (p == 1.0) {
        d = sgn;
      } else if (n != 0) {
        d = p == 2.0 ? v / n : sgn * std::pow(std::abs(v), p - 1) / std::pow(n, p - 1);
      }
      dx[k] = store<T>(load<double>(dx, k) + g * d);
    }
  });
}

#define NABLA_REDUCE_FLOATING(T)                                                                 \
  template void sum_forward<T>(T*, const T*, int64_t, int64_t, int64_t, double);                 \
  template void var_forward<T>(T*, T*, const T*, int64_t, int64_t, int64_t, int64_t);            \
  template void var_backward<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t,     \
                                int64_t);                                                        \
  template void max_forward<T>(T*, int64_t*, const T*, int64_t, int64_t, int64_t, bool);         \
  template void index_backward<T>(T*, const T*, const int64_t*, int64_t, int64_t, int64_t);      \
  template void norm_forward<T>(T*, const T*, int64_t, int64_t, int64_t, double);                \
  template void norm_backward<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t,    \
                                 double);
NABLA_REDUCE_FLOATING(float)
NABLA_REDUCE_FLOATING(double)
NABLA_REDUCE_FLOATING(BFloat16)
#undef NABLA_REDUCE_FLOATING

template void sum_integer_forward<int32_t>(int64_t*, const int32_t*, int64_t, int64_t, int64_t);
template void sum_integer_forward<int64_t>(int64_t*, const int64_t*, int64_t, int64_t, int64_t);
template void sum_integer_forward<uint8_t>(int64_t*, const uint8_t*, int64_t, int64_t, int64_t);
template void sum_integer_forward<bool>(int64_t*, const bool*, int64_t, int64_t, int64_t);
template void max_forward<int32_t>(int32_t*, int64_t*, const int32_t*, int64_t, int64_t, int64_t,
                                   bool);
template void max_forward<int64_t>(int64_t*, int64_t*, const int64_t*, int64_t, int64_t, int64_t,
                                   bool);
template void max_forward<uint8_t>(uint8_t*, int64_t*, const uint8_t*, int64_t, int64_t, int64_t,
                                   bool);

}  // namespace nabla::kernels::cpu
