// flash_attention forward/backward over tiles of kTile keys. Per (b, key/value head) a thread
// transposes K (and V in backward) to (D, Tk) so that one query's scores against a tile are D
// broadcast multiply-adds over kTile contiguous lanes; the sums over values run D lanes at a
// time. f32 uses vec_math.h's polynomial exp (libm's expf does not vectorise), f64 libm.
#include "nabla/kernels/cpu/flash_attention.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/vec_math.h"
#include "nabla/core/rng.h"

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kTile = 64;    // keys per tile: four AVX-512 vectors of f32
constexpr int64_t kQTile = 32;   // query rows whose running max/sum forward keeps per pass

template <typename T>
inline T exp_t(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return detail::exp_f32(x);  // exp(-inf) saturates to e^-87: only ever multiplies zeros
  } else {
    return std::exp(x);
  }
}

template <typename T>
struct Args {
  const T *q, *k, *v;
  HeadStrides qs, ks, vs;
  FlashAttentionShape s;
  T scale;
  AttentionDropout drop;
  int64_t padded() const { return (s.Tk + kTile - 1) / kTile * kTile; }
  int64_t offset() const { return s.Tk - s.Tq; }  // position of query 0
  uint64_t counter(int64_t b, int64_t h, int64_t i) const {
    return drop.offset + static_cast<uint64_t>(((b * s.H + h) * s.Tq + i) * s.Tk);
  }
};

// dst (D, Tp) = src (Tk, D) with row stride ts, transposed; columns past Tk are zero.
template <typename T>
void transpose_head(T* dst, const T* src, int64_t ts, int64_t Tk, int64_t Tp, int64_t D) {
  for (int64_t t = 0; t < Tk; ++t) {
    for (int64_t d = 0; d < D; ++d) dst[d * Tp + t] = src[t * ts + d];
  }
  for (int64_t d = 0; d < D; ++d) std::fill(dst + d * Tp + Tk, dst + (d + 1) * Tp, T(0));
}

// A 64-byte vector (GCC/Clang vector extension): one AVX-512 register, two AVX2 ones.
template <typename T>
using Vec [[gnu::vector_size(64)]] = T;
template <typename T>
constexpr int64_t kLanes = 64 / sizeof(T);

template <typename T>
inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// s[r] (kTile, rows of stride kTile) = x[r] (D, rows of stride xs) . kt[:, j] for r < R and
// the kTile columns starting at kt (rows of stride Tp). R rows share each load of kt; the
// R x kTile accumulators stay in registers over d.
template <typename T, int64_t R>
inline void tile_dots(T* s, const T* x, int64_t xs, const T* kt, int64_t Tp, int64_t D) {
  constexpr int64_t kN = kTile / kLanes<T>;
  Vec<T> acc[R][kN] = {};
  for (int64_t d = 0; d < D; ++d) {
    for (int64_t n = 0; n < kN; ++n) {
      const Vec<T> k = load(kt + d * Tp + n * kLanes<T>);
      for (int64_t r = 0; r < R; ++r) acc[r][n] += x[r * xs + d] * k;
    }
  }
  for (int64_t r = 0; r < R; ++r) std::memcpy(s + r * kTile, acc[r], sizeof acc[r]);
}

// tile_dots over rows rows, four at a time.
template <typename T>
void tile_dots_rows(T* s, const T* x, int64_t xs, int64_t rows, const T* kt, int64_t Tp,
                    int64_t D) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) tile_dots<T, 4>(s + r * kTile, x + r * xs, xs, kt, Tp, D);
  for (; r < rows; ++r) tile_dots<T, 1>(s + r * kTile, x + r * xs, xs, kt, Tp, D);
}

// y (D) += sum_{j < n} w[j * ws] * x[j * xs + :] in order of j: 4 vectors of y stay in
// registers over j (one store per chunk instead of one per j).
template <typename T>
void accumulate_rows(T* y, const T* w, int64_t ws, const T* x, int64_t xs, int64_t n,
                     int64_t D) {
  constexpr int64_t L = kLanes<T>, kC = 4;
  int64_t d0 = 0;
  for (; d0 + kC * L <= D; d0 += kC * L) {
    Vec<T> acc[kC];
    for (int64_t c = 0; c < kC; ++c) acc[c] = load(y + d0 + c * L);
    for (int64_t j = 0; j < n; ++j) {
      const T wj = w[j * ws];
      for (int64_t c = 0; c < kC; ++c) acc[c] += wj * load(x + j * xs + d0 + c * L);
    }
    std::memcpy(y + d0, acc, sizeof acc);
  }
  for (; d0 + L <= D; d0 += L) {
    Vec<T> acc = load(y + d0);
    for (int64_t j = 0; j < n; ++j) acc += w[j * ws] * load(x + j * xs + d0);
    std::memcpy(y + d0, &acc, sizeof acc);
  }
  for (; d0 < D; ++d0) {
    T acc = y[d0];
    for (int64_t j = 0; j < n; ++j) acc += w[j * ws] * x[j * xs + d0];
    y[d0] = acc;
  }
}

// z[j] = 1 / (1 - p) when the draw for counter first + j is kept, else 0 (dropout.cpp's rule:
// word c % 4 of philox4x32(seed, c / 4)).
template <typename T>
void dropout_row(T* z, int64_t n, const AttentionDropout& drop, uint64_t first) {
  const auto p = static_cast<float>(drop.p);
  const auto keep = static_cast<T>(1.0 / (1.0 - drop.p));
  uint64_t c = first;
  for (int64_t j = 0; j < n;) {
    const std::array<uint32_t, 4> r = philox4x32(drop.seed, c / 4);
    for (uint64_t w = c % 4; w < 4 && j < n; ++w, ++j, ++c) {
      z[j] = uniform01(r[w]) >= p ? keep : T(0);
    }
  }
}

// Per-thread buffers: K (and V) of one key/value head transposed, a tile of rows.
template <typename T>
struct Scratch {
  std::vector<T> kt, vt, q, s, dp, z, delta;
  Scratch(int64_t D, int64_t Tp, int64_t Tq, bool backward)
      : kt(static_cast<size_t>(D * Tp)),
        vt(backward ? static_cast<size_t>(D * Tp) : 0),
        q(static_cast<size_t>(kQTile * D)),
        s(static_cast<size_t>(kQTile * kTile)),
        dp(static_cast<size_t>(kQTile * kTile)),
        z(static_cast<size_t>(kTile)),
        delta(static_cast<size_t>(Tq)) {}
};

// One query head h of batch row b; w.kt holds its key/value head's K transposed.
template <typename T>
void forward_head(const Args<T>& a, int64_t b, int64_t h, T* out, T* lse, Scratch<T>& w) {
  const FlashAttentionShape& s = a.s;
  const int64_t D = s.D, Tp = a.padded(), off = a.offset(), hk = h / (s.H / s.Hkv);
  const T* qh = a.q + b * a.qs.b + h * a.qs.h;
  const T* vh = a.v + b * a.vs.b + hk * a.vs.h;
  T* oh = out + (b * s.H + h) * s.Tq * D;
  T* lh = lse + (b * s.H + h) * s.Tq;
  for (int64_t i0 = 0; i0 < s.Tq; i0 += kQTile) {
    const int64_t nq = std::min(kQTile, s.Tq - i0);
    std::array<T, kQTile> m, l;  // running max and sum of exponentials per row
    for (int64_t r = 0; r < nq; ++r) {
      for (int64_t d = 0; d < D; ++d) w.q[r * D + d] = qh[(i0 + r) * a.qs.t + d] * a.scale;
      std::fill(oh + (i0 + r) * D, oh + (i0 + r + 1) * D, T(0));
      m[r] = -INFINITY;
      l[r] = 0;
    }
    for (int64_t j0 = 0; j0 < off + i0 + nq; j0 += kTile) {
      tile_dots_rows(w.s.data(), w.q.data(), D, nq, w.kt.data() + j0, Tp, D);
      for (int64_t r = 0; r < nq; ++r) {
        const int64_t n = std::min(kTile, off + i0 + r + 1 - j0);  // keys row r sees here
        if (n <= 0) continue;
        T* sc = w.s.data() + r * kTile;
        T mx = m[r];
#pragma omp simd reduction(max : mx)
        for (int64_t j = 0; j < n; ++j) mx = std::max(mx, sc[j]);
        const T alpha = exp_t(m[r] - mx);
        T sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < n; ++j) {
          sc[j] = exp_t(sc[j] - mx);
          sum += sc[j];
        }
        l[r] = l[r] * alpha + sum;
        m[r] = mx;
        T* o = oh + (i0 + r) * D;
        if (alpha != T(1)) {
          for (int64_t d = 0; d < D; ++d) o[d] *= alpha;
        }
        if (a.drop.p > 0) {
          dropout_row(w.z.data(), n, a.drop, a.counter(b, h, i0 + r) + static_cast<uint64_t>(j0));
          for (int64_t j = 0; j < n; ++j) sc[j] *= w.z[j];
        }
        accumulate_rows(o, sc, 1, vh + j0 * a.vs.t, a.vs.t, n, D);
      }
    }
    for (int64_t r = 0; r < nq; ++r) {
      T* o = oh + (i0 + r) * D;
      const T inv = T(1) / l[r];
      for (int64_t d = 0; d < D; ++d) o[d] *= inv;
      lh[i0 + r] = m[r] + std::log(l[r]);
    }
  }
}

struct Grad {
  const void *dout, *out, *lse;
  void *dq, *dk, *dv;
};

// Gradients of query head h of batch row b: dq rows of h, dk and dv rows of its key/value
// head (this thread owns them). w.kt, w.vt: K and V transposed. Keys run in tiles; the queries
// that see a tile pass over it kQTile rows at a time, so each dk, dv row of the tile is read
// and written once per block of rows, and every sum runs in a fixed order.
template <typename T>
void backward_head(const Args<T>& a, const Grad& g, int64_t b, int64_t h, Scratch<T>& w) {
  const FlashAttentionShape& s = a.s;
  const int64_t D = s.D, Tp = a.padded(), off = a.offset(), hk = h / (s.H / s.Hkv);
  const int64_t row = (b * s.H + h) * s.Tq, kvrow = (b * s.Hkv + hk) * s.Tk;
  const T* qh = a.q + b * a.qs.b + h * a.qs.h;
  const T* kh = a.k + b * a.ks.b + hk * a.ks.h;
  const T* doh = static_cast<const T*>(g.dout) + row * D;
  const T* oh = static_cast<const T*>(g.out) + row * D;
  const T* lh = static_cast<const T*>(g.lse) + row;
  T* dqh = static_cast<T*>(g.dq) + row * D;
  T* dkh = static_cast<T*>(g.dk) + kvrow * D;
  T* dvh = static_cast<T*>(g.dv) + kvrow * D;
  for (int64_t i = 0; i < s.Tq; ++i) {  // delta_i = dO_i . O_i = sum_j P_ij dP_ij
    T acc = 0;
    for (int64_t d = 0; d < D; ++d) acc += doh[i * D + d] * oh[i * D + d];
    w.delta[i] = acc;
  }
  const bool dropping = a.drop.p > 0;
  for (int64_t j0 = 0; j0 < s.Tk; j0 += kTile) {
    const int64_t nk = std::min(kTile, s.Tk - j0);
    for (int64_t i0 = std::max<int64_t>(0, j0 - off); i0 < s.Tq; i0 += kQTile) {
      const int64_t nq = std::min(kQTile, s.Tq - i0);
      for (int64_t r = 0; r < nq; ++r) {  // forward's exact scores
        for (int64_t d = 0; d < D; ++d) w.q[r * D + d] = qh[(i0 + r) * a.qs.t + d] * a.scale;
      }
      tile_dots_rows(w.s.data(), w.q.data(), D, nq, w.kt.data() + j0, Tp, D);
      tile_dots_rows(w.dp.data(), doh + i0 * D, D, nq, w.vt.data() + j0, Tp, D);  // dO . v
      for (int64_t r = 0; r < nq; ++r) {
        const int64_t i = i0 + r, n = std::min(nk, off + i + 1 - j0);  // n >= 1
        T* sc = w.s.data() + r * kTile;
        T* dp = w.dp.data() + r * kTile;
        if (dropping) {
          dropout_row(w.z.data(), n, a.drop, a.counter(b, h, i) + static_cast<uint64_t>(j0));
        }
        const T li = lh[i], di = w.delta[i];
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) {
          const T p = exp_t(sc[j] - li);
          const T zj = dropping ? w.z[j] : T(1);
          sc[j] = p * zj;                           // dropped probability: the dV weight
          dp[j] = p * (zj * dp[j] - di) * a.scale;  // dS times scale: the dQ and dK weight
        }
        std::fill(sc + n, sc + kTile, T(0));  // keys this row does not see
        std::fill(dp + n, dp + kTile, T(0));
        accumulate_rows(dqh + i * D, dp, 1, kh + j0 * a.ks.t, a.ks.t, nk, D);
      }
      for (int64_t j = 0; j < nk; ++j) {
        accumulate_rows(dvh + (j0 + j) * D, w.s.data() + j, kTile, doh + i0 * D, D, nq, D);
        accumulate_rows(dkh + (j0 + j) * D, w.dp.data() + j, kTile, qh + i0 * a.qs.t, a.qs.t,
                        nq, D);
      }
    }
  }
}

}  // namespace

template <typename T>
void flash_attention_forward(T* out, T* lse, const T* q, HeadStrides qs, const T* k,
                             HeadStrides ks, const T* v, HeadStrides vs,
                             const FlashAttentionShape& s, double scale,
                             const AttentionDropout& drop) {
  const Args<T> a{q, k, v, qs, ks, vs, s, static_cast<T>(scale), drop};
  const int64_t units = s.B * s.Hkv, rep = s.H / s.Hkv, Tp = a.padded();
#pragma omp parallel if (units > 1)
  {
    Scratch<T> w(s.D, Tp, s.Tq, false);
#pragma omp for schedule(static)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t b = u / s.Hkv, hk = u % s.Hkv;
      transpose_head(w.kt.data(), k + b * ks.b + hk * ks.h, ks.t, s.Tk, Tp, s.D);
      for (int64_t h = hk * rep; h < (hk + 1) * rep; ++h) forward_head(a, b, h, out, lse, w);
    }
  }
}

template <typename T>
void flash_attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse,
                              const T* q, HeadStrides qs, const T* k, HeadStrides ks,
                              const T* v, HeadStrides vs, const FlashAttentionShape& s,
                              double scale, const AttentionDropout& drop) {
  const Args<T> a{q, k, v, qs, ks, vs, s, static_cast<T>(scale), drop};
  const Grad g{dout, out, lse, dq, dk, dv};
  const int64_t units = s.B * s.Hkv, rep = s.H / s.Hkv, Tp = a.padded();
#pragma omp parallel if (units > 1)
  {
    Scratch<T> w(s.D, Tp, s.Tq, true);
#pragma omp for schedule(static)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t b = u / s.Hkv, hk = u % s.Hkv;
      transpose_head(w.kt.data(), k + b * ks.b + hk * ks.h, ks.t, s.Tk, Tp, s.D);
      transpose_head(w.vt.data(), v + b * vs.b + hk * vs.h, vs.t, s.Tk, Tp, s.D);
      for (int64_t h = hk * rep; h < (hk + 1) * rep; ++h) backward_head(a, g, b, h, w);
    }
  }
}

#define NABLA_INSTANTIATE(T)                                                                  \
  template void flash_attention_forward<T>(T*, T*, const T*, HeadStrides, const T*,           \
                                           HeadStrides, const T*, HeadStrides,                \
                                           const FlashAttentionShape&, double,                \
                                           const AttentionDropout&);                          \
  template void flash_attention_backward<T>(T*, T*, T*, const T*, const T*, const T*,         \
                                            const T*, HeadStrides, const T*, HeadStrides,     \
                                            const T*, HeadStrides, const FlashAttentionShape&, \
                                            double, const AttentionDropout&);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
