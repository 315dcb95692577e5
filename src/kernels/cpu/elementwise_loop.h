// The strided N-d loop behind the element-wise kernels. coalesce() drops size-1 dims and
// merges dims that are contiguous for every operand, so contiguous, scalar and row-broadcast
// ((N, C) + (C)) operands all end in long unit-stride or zero-stride inner rows. for_each_row
// splits the flat index range into one fixed chunk per thread (above kParallelThreshold).
#pragma once

#include <omp.h>

#include <algorithm>
#include <array>
#include <type_traits>

#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/elementwise.h"

namespace nabla::kernels::cpu::detail {

/// Below this many elements a kernel runs on one thread: the fork costs more than it saves.
constexpr int64_t kParallelThreshold = 32768;

inline int64_t numel(const Geometry& g) {
  int64_t n = 1;
  for (int64_t d = 0; d < g.ndim; ++d) n *= g.sizes[d];
  return n;
}

/// The same iteration space with size-1 dims dropped and mergeable dims merged; at least one
/// dim (a 0-d op becomes one row of one element).
inline Geometry coalesce(const Geometry& g, int n_operands) {
  Geometry c;
  for (int64_t d = 0; d < g.ndim; ++d) {
    if (g.sizes[d] == 1) continue;
    if (c.ndim > 0) {
      const int64_t last = c.ndim - 1;
      bool mergeable = true;
      for (int k = 0; k < n_operands; ++k) {
        mergeable = mergeable && c.strides[k][last] == g.strides[k][d] * g.sizes[d];
      }
      if (mergeable) {
        c.sizes[last] *= g.sizes[d];
        for (int k = 0; k < n_operands; ++k) c.strides[k][last] = g.strides[k][d];
        continue;
      }
    }
    c.sizes[c.ndim] = g.sizes[d];
    for (int k = 0; k < n_operands; ++k) c.strides[k][c.ndim] = g.strides[k][d];
    ++c.ndim;
  }
  if (c.ndim == 0) {
    c.ndim = 1;
    c.sizes[0] = numel(g);  // 1, or 0 for an empty op
  }
  return c;
}

/// Runs row(off, st, n) over [begin, end) of the flat index space of a coalesced g: off[k] is
/// operand k's element offset at the row's start, st[k] its stride along the row, n the
/// row's length.
template <int N, typename Row>
void run_range(const Geometry& g, int64_t begin, int64_t end, Row& row) {
  const int64_t nd = g.ndim;
  std::array<int64_t, kMaxDims> idx{};
  std::array<int64_t, N> off{};
  std::array<int64_t, N> st{};
  for (int k = 0; k < N; ++k) st[k] = g.strides[k][nd - 1];
  int64_t rem = begin;
  for (int64_t d = nd - 1; d >= 0; --d) {
    idx[d] = rem % g.sizes[d];
    rem /= g.sizes[d];
    for (int k = 0; k < N; ++k) off[k] += idx[d] * g.strides[k][d];
  }
  for (int64_t pos = begin; pos < end;) {
    const int64_t n = std::min(g.sizes[nd - 1] - idx[nd - 1], end - pos);
    row(off, st, n);
    pos += n;
    idx[nd - 1] += n;
    for (int k = 0; k < N; ++k) off[k] += n * st[k];
    for (int64_t d = nd - 1; d > 0 && idx[d] == g.sizes[d]; --d) {
      idx[d] = 0;
      ++idx[d - 1];
      for (int k = 0; k < N; ++k) off[k] += g.strides[k][d - 1] - g.sizes[d] * g.strides[k][d];
    }
  }
}

/// Calls row(off, st, n) for every row of g (see run_range), in parallel above the threshold.
template <int N, typename Row>
void for_each_row(const Geometry& geometry, Row&& row) {
  const Geometry g = coalesce(geometry, N);
  const int64_t total = numel(g);
  if (total == 0) return;
  if (total < kParallelThreshold || omp_get_max_threads() == 1 || omp_in_parallel()) {
    run_range<N>(g, 0, total, row);
    return;
  }
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads();
    const int64_t t = omp_get_thread_num();
    const int64_t chunk = (total + nt - 1) / nt;
    const int64_t begin = std::min(total, t * chunk);
    const int64_t end = std::min(total, begin + chunk);
    if (begin < end) run_range<N>(g, begin, end, row);
  }
}

template <int N>
using Offsets = std::array<int64_t, N>;

/// Loads an element as its compute type (f32 for bf16).
template <typename T>
inline compute_t<T> load(T v) {
  return static_cast<compute_t<T>>(v);
}

/// out[i] = f(a[i]) over one row; unit strides take a vectorisable loop.
template <typename Out, typename In, typename F>
inline void map_row(Out* o, int64_t so, const In* a, int64_t sa, int64_t n, const F& f) {
  if (so == 1 && sa == 1) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<Out>(f(load(a[i])));
  } else if (so == 1 && sa == 0) {
    const Out v = static_cast<Out>(f(load(*a)));
    for (int64_t i = 0; i < n; ++i) o[i] = v;
  } else {
    for (int64_t i = 0; i < n; ++i) o[i * so] = static_cast<Out>(f(load(a[i * sa])));
  }
}

/// out[i] = f(a[i], b[i]) over one row, with fast paths for contiguous and scalar operands.
template <typename Out, typename In, typename F>
inline void map2_row(Out* o, int64_t so, const In* a, int64_t sa, const In* b, int64_t sb,
                     int64_t n, const F& f) {
  if (so == 1 && sa == 1 && sb == 1) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<Out>(f(load(a[i]), load(b[i])));
  } else if (so == 1 && sa == 1 && sb == 0) {
    const auto bv = load(*b);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<Out>(f(load(a[i]), bv));
  } else if (so == 1 && sa == 0 && sb == 1) {
    const auto av = load(*a);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<Out>(f(av, load(b[i])));
  } else {
    for (int64_t i = 0; i < n; ++i) {
      o[i * so] = static_cast<Out>(f(load(a[i * sa]), load(b[i * sb])));
    }
  }
}

/// out = f(in) over g with operands (out, in).
template <typename Out, typename In, typename F>
void map1(const Geometry& g, void* out, const void* in, const F& f) {
  auto* o = static_cast<Out*>(out);
  const auto* a = static_cast<const In*>(in);
  for_each_row<2>(g, [&](const Offsets<2>& off, const Offsets<2>& st, int64_t n) {
    map_row(o + off[0], st[0], a + off[1], st[1], n, f);
  });
}

/// out = f(a, b) over g with operands (out, a, b); a null a or b is the constant `scalar`,
/// held in compute precision.
template <typename Out, typename In, typename F>
void map2(const Geometry& g, void* out, const void* a, const void* b, double scalar, const F& f) {
  using C = compute_t<In>;
  const auto* pa = static_cast<const In*>(a);
  const auto* pb = static_cast<const In*>(b);
  const C s = static_cast<C>(scalar);
  if (pa == nullptr || pb == nullptr) {
    Geometry g2 = g;  // operands (out, the tensor one)
    if (pa == nullptr) g2.strides[1] = g.strides[2];
    if (pb == nullptr) return map1<Out, In>(g2, out, a, [&](C x) { return f(x, s); });
    return map1<Out, In>(g2, out, b, [&](C x) { return f(s, x); });
  }
  auto* o = static_cast<Out*>(out);
  for_each_row<3>(g, [&](const Offsets<3>& off, const Offsets<3>& st, int64_t n) {
    map2_row(o + off[0], st[0], pa + off[1], st[1], pb + off[2], st[2], n, f);
  });
}

/// base^exp in an integer type (as torch.pow on integer tensors): negative exponents give
/// 0 except for bases 1 and -1, and overflow wraps.
template <typename I>
I int_pow(I base, I exp) {
  if constexpr (std::is_signed_v<I>) {
    if (exp < 0) {  // only 1 and -1 have integer reciprocals; the rest truncate to 0
      if (base == 1) return 1;
      if (base == -1) return (exp & 1) ? -1 : 1;
      return 0;
    }
  }
  I r = 1;
  while (exp != 0) {
    if (exp & 1) r = static_cast<I>(r * base);
    base = static_cast<I>(base * base);
    exp = static_cast<I>(exp >> 1);
  }
  return r;
}

}  // namespace nabla::kernels::cpu::detail
