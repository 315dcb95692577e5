// Peak throughput loops: 12 independent accumulators per thread hide the multiply-add latency
// (4 cycles, 2 per cycle on current cores); the constants keep the values finite and the
// final sum keeps the compiler from dropping the work.
#include "nabla/kernels/cpu/peak.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif
#include <omp.h>

#include <chrono>
#include <cstdint>

namespace nabla::kernels::cpu {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kChains = 12;
constexpr int64_t kInner = 4096;  // iterations between clock reads
// Read through volatile, so the compiler cannot evaluate the loops at compile time.
volatile float g_scale = 0.999999f, g_add = 1e-7f;
volatile float g_sink = 0;  // where the results go

// Runs body(iterations) on every thread until `seconds` pass; returns flops / second where
// flops_per_iter counts one iteration of one thread.
template <class Body>
double measure(double seconds, double flops_per_iter, Body body) {
  double total = 0;  // iterations over all threads
  float sum = 0;
  const auto t0 = Clock::now();
#pragma omp parallel reduction(+ : total, sum)
  {
    int64_t iters = 0;
    do {
      sum += body(kInner);
      iters += kInner;
    } while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds);
    total += static_cast<double>(iters);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  g_sink = sum;
  return total * flops_per_iter / elapsed / 1e9;
}

}  // namespace

double f32_fma_peak_gflops(double seconds) {
  // The widest vectors the build has (12 chains of them fit the register file).
#if defined(__AVX512F__)
  constexpr int kLanes = 16;
#else
  constexpr int kLanes = 8;
#endif
  using vec = float __attribute__((vector_size(4 * kLanes)));
  return measure(seconds, 2.0 * kChains * kLanes, [](int64_t n) {
    vec acc[kChains];
    const float mf = g_scale, af = g_add;
    for (int j = 0; j < kChains; ++j) acc[j] = vec{} + static_cast<float>(j) * af;
    const vec m = vec{} + mf, a = vec{} + af;
    for (int64_t i = 0; i < n; ++i) {
#pragma GCC unroll 12  // keeps the chains in registers
      for (int j = 0; j < kChains; ++j) acc[j] = acc[j] * m + a;  // contracted to an FMA
    }
    float s = 0;
    for (int j = 0; j < kChains; ++j) s += acc[j][0];
    return s;
  });
}

double bf16_dot_peak_gflops(double seconds) {
#if defined(__AVX512BF16__)
  // One vdpbf16ps: 16 lanes, each the sum of two bf16 products added to f32: 64 flops.
  return measure(seconds, 64.0 * kChains, [](int64_t n) {
    __m512 acc[kChains];
    const float af = g_add;
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j) * af);
    const __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(af), _mm512_set1_ps(af));
    for (int64_t i = 0; i < n; ++i) {
#pragma GCC unroll 12
      for (int j = 0; j < kChains; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], x, x);
    }
    float s = 0;
    for (int j = 0; j < kChains; ++j) s += _mm512_cvtss_f32(acc[j]);
    return s;
  });
#else
  (void)seconds;
  return 0.0;
#endif
}

}  // namespace nabla::kernels::cpu
