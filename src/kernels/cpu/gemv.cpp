// gemv_rows: four weight rows at a time, each dotted with every row of A while it is in L1
// (bf16 and int8 weights are widened to f32 in registers as they are used).
// A dot product keeps 2 x 16 lane sums (two independent FMA chains per weight row hide the
// FMA latency) and adds them up in one fixed tree at the end; lane l sums elements
// k = l (mod 32), so the result does not depend on M, on the block a row falls in, or on threads.
#include "nabla/kernels/cpu/gemv.h"

#include <omp.h>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() and then report that value as
// maybe uninitialized once inlined (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kLanes = 32;  // = kQ8Block: one int8 block per step
constexpr int64_t kBlock = 4;   // weight rows per task
// Weight rows are prefetched this far ahead of the rows being summed. The hardware prefetcher
// alone loses its stream at each short row's end (K = 288 floats is 18 cache lines); measured
// in decoding, this saves 20-45% of the time per token for f32, bf16 and int8 weights.
constexpr int64_t kPrefetchRows = 2 * kBlock;
static_assert(kLanes == kQ8Block);

float reduce_lanes(float* s) {
  for (int64_t w = kLanes / 2; w >= 1; w /= 2) {
    for (int64_t l = 0; l < w; ++l) s[l] += s[l + w];
  }
  return s[0];
}

#if defined(__AVX512F__)
// Weights are read once per token: the non-temporal hint keeps them from evicting what is
// reused (activations, the KV cache). A prefetch past the end of the weights is only a hint
// and never faults.
inline void prefetch_stream(const void* p) {
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_NTA);
}

// reduce_lanes on lanes 0-15 (lo) and 16-31 (hi) in registers: the same pairs added in the
// same tree (w = 16, 8, 4, 2, 1), so the same bits, without the round trip through memory
// that costs as much as a short dot product (K = 288 is nine steps).
float reduce_lanes(__m512 lo, __m512 hi) {
  const __m512 v16 = _mm512_add_ps(lo, hi);
  const __m256 v8 = _mm256_add_ps(
      _mm512_castps512_ps256(v16),
      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v16), 1)));
  const __m128 v4 = _mm_add_ps(_mm256_castps256_ps128(v8), _mm256_extractf128_ps(v8, 1));
  const __m128 v2 = _mm_add_ps(v4, _mm_movehl_ps(v4, v4));
  return _mm_cvtss_f32(_mm_add_ss(v2, _mm_movehdup_ps(v2)));
}

// The lanes (acc0, acc1) plus a[k] * w[n][k] for the K % 32 tail elements, then reduced.
template <class W>
float finish(__m512 acc0, __m512 acc1, const float* a, const W& w, int64_t n, int64_t body,
             int64_t K) {
  if (body == K) return reduce_lanes(acc0, acc1);
  alignas(64) float s[kLanes];
  _mm512_store_ps(s, acc0);
  _mm512_store_ps(s + 16, acc1);
  for (int64_t k = body; k < K; ++k) s[k - body] += a[k] * w.at(n, k);
  return reduce_lanes(s);
}
#endif

// How each weight format widens to f32: step() adds a[l] * w[n][k + l] to s[l] for the 32
// lanes of a step (k a multiple of 32), at() gives one weight for the tail. The product
// a * w of a widened weight w is the same float as with the f32 weights dequantize_* writes,
// so every format sums bitwise like gemv_rows on its f32 weights.
struct F32Weights {
  static constexpr bool kWidens = false;
  const float* w;
  int64_t ldw;
  void step(int64_t n, int64_t k, const float* __restrict a, float* __restrict s) const {
    const float* __restrict wr = w + n * ldw + k;
    for (int64_t l = 0; l < kLanes; ++l) s[l] += a[l] * wr[l];
  }
  float at(int64_t n, int64_t k) const { return w[n * ldw + k]; }
#if defined(__AVX512F__)
  void widen(int64_t n, int64_t k, __m512& w0, __m512& w1) const {
    w0 = _mm512_loadu_ps(w + n * ldw + k);
    w1 = _mm512_loadu_ps(w + n * ldw + k + 16);
  }
  void prefetch(int64_t n, int64_t k) const {
    prefetch_stream(w + n * ldw + k);
    prefetch_stream(w + n * ldw + k + 16);
  }
#endif
};

struct Bf16Weights {
  static constexpr bool kWidens = true;
  const uint16_t* w;
  int64_t ldw;
  static float widen(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }
  void step(int64_t n, int64_t k, const float* __restrict a, float* __restrict s) const {
    const uint16_t* __restrict wr = w + n * ldw + k;
    for (int64_t l = 0; l < kLanes; ++l) s[l] += a[l] * widen(wr[l]);
  }
  float at(int64_t n, int64_t k) const { return widen(w[n * ldw + k]); }
#if defined(__AVX512F__)
  static __m512 widen16(const uint16_t* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  void widen(int64_t n, int64_t k, __m512& w0, __m512& w1) const {
    w0 = widen16(w + n * ldw + k);
    w1 = widen16(w + n * ldw + k + 16);
  }
  void prefetch(int64_t n, int64_t k) const { prefetch_stream(w + n * ldw + k); }
#endif
};

struct Q8Weights {
  static constexpr bool kWidens = true;
  const int8_t* codes;
  const float* scales;
  int64_t K, nb;
  void step(int64_t n, int64_t k, const float* __restrict a, float* __restrict s) const {
    const int8_t* __restrict q = codes + n * K + k;
    const float d = scales[n * nb + k / kQ8Block];
    for (int64_t l = 0; l < kLanes; ++l) s[l] += a[l] * (static_cast<float>(q[l]) * d);
  }
  float at(int64_t n, int64_t k) const {
    return static_cast<float>(codes[n * K + k]) * scales[n * nb + k / kQ8Block];
  }
#if defined(__AVX512F__)
  static __m512 widen16(const int8_t* p, __m512 d) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), d);
  }
  void widen(int64_t n, int64_t k, __m512& w0, __m512& w1) const {
    const __m512 d = _mm512_set1_ps(scales[n * nb + k / kQ8Block]);
    w0 = widen16(codes + n * K + k, d);
    w1 = widen16(codes + n * K + k + 16, d);
  }
  void prefetch(int64_t n, int64_t k) const { prefetch_stream(codes + n * K + k); }
#endif
};

// out[r] = dot(a, weight row n0 + r) for r < R, all over K elements.
template <int R, class W>
void dots(const float* __restrict a, const W& w, int64_t n0, int64_t K, float* out) {
  const int64_t body = K - K % kLanes;
#if defined(__AVX512F__)
  // The same lanes in registers: compilers keep s in memory or use 256-bit vectors.
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < body; k += kLanes) {
    const __m512 a0 = _mm512_loadu_ps(a + k), a1 = _mm512_loadu_ps(a + k + 16);
    for (int r = 0; r < R; ++r) w.prefetch(n0 + r + kPrefetchRows, k);
    for (int r = 0; r < R; ++r) {
      __m512 w0, w1;
      w.widen(n0 + r, k, w0, w1);
      acc[r][0] = _mm512_fmadd_ps(a0, w0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a1, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = finish(acc[r][0], acc[r][1], a, w, n0 + r, body, K);
#else
  alignas(64) float s[R][kLanes] = {};
  for (int64_t k = 0; k < body; k += kLanes) {
    for (int r = 0; r < R; ++r) w.step(n0 + r, k, a + k, s[r]);
  }
  for (int r = 0; r < R; ++r) {
    for (int64_t k = body; k < K; ++k) s[r][k - body] += a[k] * w.at(n0 + r, k);
    out[r] = reduce_lanes(s[r]);
  }
#endif
}

#if defined(__AVX512F__)
// Several rows of A at once (batched decoding): each weight step is loaded (and widened) once
// into registers and used for MI rows, R weight rows at a time. Only the first tile over a pair
// of weight rows prefetches (prefetch): the others would repeat its requests. Every (row,
// weight row) pair keeps the lanes and order of dots(), so the results are bitwise those of
// dots() row by row.
template <int R, int MI, class W>
void dots_tile(const float* __restrict A, int64_t lda, const W& w, int64_t n0, int64_t K,
               bool prefetch, float (*out)[R]) {
  const int64_t body = K - K % kLanes;
  __m512 acc[MI][R][2];
  for (int i = 0; i < MI; ++i) {
    for (int r = 0; r < R; ++r) acc[i][r][0] = acc[i][r][1] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < body; k += kLanes) {
    __m512 wv[R][2];
    if (prefetch) {
      for (int r = 0; r < R; ++r) w.prefetch(n0 + r + kPrefetchRows, k);
    }
    for (int r = 0; r < R; ++r) {
      w.widen(n0 + r, k, wv[r][0], wv[r][1]);
      // Keep the widened step in registers: folded into each FMA it would be loaded MI times.
      __asm__("" : "+v"(wv[r][0]), "+v"(wv[r][1]));
    }
    for (int i = 0; i < MI; ++i) {
      const __m512 a0 = _mm512_loadu_ps(A + i * lda + k), a1 = _mm512_loadu_ps(A + i * lda + k + 16);
      for (int r = 0; r < R; ++r) {
        acc[i][r][0] = _mm512_fmadd_ps(a0, wv[r][0], acc[i][r][0]);
        acc[i][r][1] = _mm512_fmadd_ps(a1, wv[r][1], acc[i][r][1]);
      }
    }
  }
  for (int i = 0; i < MI; ++i) {
    for (int r = 0; r < R; ++r) {
      out[i][r] = finish(acc[i][r][0], acc[i][r][1], A + i * lda, w, n0 + r, body, K);
    }
  }
}

// d[i][r] for rows [i0, i0 + mi) of A (mi <= 4) and weight rows n0, n0 + 1.
template <class W>
void dots_rows(int64_t mi, const float* A, int64_t lda, const W& w, int64_t n0, int64_t K,
               bool prefetch, float (*d)[2]) {
  switch (mi) {
    case 1: dots_tile<2, 1>(A, lda, w, n0, K, prefetch, d); break;
    case 2: dots_tile<2, 2>(A, lda, w, n0, K, prefetch, d); break;
    case 3: dots_tile<2, 3>(A, lda, w, n0, K, prefetch, d); break;
    default: dots_tile<2, 4>(A, lda, w, n0, K, prefetch, d); break;
  }
}
#endif

template <class W>
void gemv_impl(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const W& w, float beta, float* C, int64_t ldc, const float* bias) {
  const int64_t blocks = (N + kBlock - 1) / kBlock;
  auto store = [&](int64_t i, int64_t j, float d) {
    float v = alpha * d;
    if (beta != 0.0f) v += beta * C[i * ldc + j];
    if (bias != nullptr) v += bias[j];
    C[i * ldc + j] = v;
  };
  // Threads only pay off once the weights are large enough to stream (about 64 KiB).
#pragma omp parallel for schedule(static) if (N * K >= (1 << 14))
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t j0 = b * kBlock, rows = N - j0 < kBlock ? N - j0 : kBlock;
#if defined(__AVX512F__)
    // Tiles load each weight step once for four rows of A, where row by row loads it per row.
    if (M > 1 && rows == kBlock) {
      for (int64_t r0 = 0; r0 < kBlock; r0 += 2) {
        for (int64_t i0 = 0; i0 < M; i0 += 4) {
          const int64_t mi = M - i0 < 4 ? M - i0 : 4;
          float d[4][2];
          dots_rows(mi, A + i0 * lda, lda, w, j0 + r0, K, i0 == 0, d);
          for (int64_t i = 0; i < mi; ++i) {
            for (int64_t r = 0; r < 2; ++r) store(i0 + i, j0 + r0 + r, d[i][r]);
          }
        }
      }
      continue;
    }
#endif
    for (int64_t i = 0; i < M; ++i) {
      float d[kBlock];
      if (rows == kBlock) {
        dots<kBlock>(A + i * lda, w, j0, K, d);
      } else {
        for (int64_t r = 0; r < rows; ++r) dots<1>(A + i * lda, w, j0 + r, K, d + r);
      }
      for (int64_t r = 0; r < rows; ++r) store(i, j0 + r, d[r]);
    }
  }
}

void dequantize_row(int64_t K, const int8_t* codes, const float* scales, float* out) {
  for (int64_t k = 0; k < K; ++k) {
    out[k] = static_cast<float>(codes[k]) * scales[k / kQ8Block];
  }
}

}  // namespace

void gemv_rows(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* W, int64_t ldw, float beta, float* C, int64_t ldc,
               const float* bias) {
  gemv_impl(M, N, K, alpha, A, lda, F32Weights{W, ldw}, beta, C, ldc, bias);
}

void gemv_rows_bf16(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const uint16_t* W, int64_t ldw, float beta, float* C, int64_t ldc,
                    const float* bias) {
  gemv_impl(M, N, K, alpha, A, lda, Bf16Weights{W, ldw}, beta, C, ldc, bias);
}

void gemv_rows_q8(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const int8_t* codes, const float* scales, float beta, float* C, int64_t ldc,
                  const float* bias) {
  gemv_impl(M, N, K, alpha, A, lda, Q8Weights{codes, scales, K, q8_blocks(K)}, beta, C, ldc,
            bias);
}

void quantize_q8(int64_t N, int64_t K, const float* W, int64_t ldw, int8_t* codes,
                 float* scales) {
  const int64_t nb = q8_blocks(K);
#pragma omp parallel for schedule(static) if (N * K >= (1 << 16))
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t k0 = b * kQ8Block, k1 = std::min(K, k0 + kQ8Block);
      const float* w = W + n * ldw;
      float amax = 0.0f;
      for (int64_t k = k0; k < k1; ++k) amax = std::max(amax, std::fabs(w[k]));
      const float d = amax / 127.0f;
      scales[n * nb + b] = d;
      for (int64_t k = k0; k < k1; ++k) {
        // A division, not a multiply by 1 / d: 1 / d overflows when d is subnormal.
        const float q = d > 0.0f ? std::nearbyint(w[k] / d) : 0.0f;
        codes[n * K + k] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
      }
    }
  }
}

void dequantize_q8(int64_t N, int64_t K, const int8_t* codes, const float* scales, float* W,
                   int64_t ldw) {
  const int64_t nb = q8_blocks(K);
#pragma omp parallel for schedule(static) if (N * K >= (1 << 16))
  for (int64_t n = 0; n < N; ++n) dequantize_row(K, codes + n * K, scales + n * nb, W + n * ldw);
}

}  // namespace nabla::kernels::cpu
