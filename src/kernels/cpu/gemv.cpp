// gemv_rows: four weight rows at a time, each dotted with every row of A while it is in L1.
// A dot product keeps 2 x 16 lane sums (two independent FMA chains per weight row hide the
// FMA latency) and adds them up in one fixed tree at the end; lane l sums elements
// k = l (mod 32), so the result does not depend on M, on the block a row falls in, or on threads.
#include "nabla/kernels/cpu/gemv.h"

#include <omp.h>

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kLanes = 32;

float reduce_lanes(float* s) {
  for (int64_t w = kLanes / 2; w >= 1; w /= 2) {
    for (int64_t l = 0; l < w; ++l) s[l] += s[l + w];
  }
  return s[0];
}

// out[r] = dot(a, w + r * ldw) for r < R, all over K elements.
template <int R>
void dots(const float* __restrict a, const float* __restrict w, int64_t ldw, int64_t K,
          float* out) {
  alignas(64) float s[R][kLanes] = {};
  const int64_t body = K - K % kLanes;
  for (int64_t k = 0; k < body; k += kLanes) {
    for (int r = 0; r < R; ++r) {
      const float* wr = w + r * ldw + k;
      for (int64_t l = 0; l < kLanes; ++l) s[r][l] += a[k + l] * wr[l];
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int64_t k = body; k < K; ++k) s[r][k - body] += a[k] * w[r * ldw + k];
    out[r] = reduce_lanes(s[r]);
  }
}

}  // namespace

void gemv_rows(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* W, int64_t ldw, float beta, float* C, int64_t ldc,
               const float* bias) {
  constexpr int64_t kBlock = 4;
  const int64_t blocks = (N + kBlock - 1) / kBlock;
  // Threads only pay off once the weights are large enough to stream (about 64 KiB).
#pragma omp parallel for schedule(static) if (N * K >= (1 << 14))
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t j0 = b * kBlock, rows = N - j0 < kBlock ? N - j0 : kBlock;
    const float* w = W + j0 * ldw;
    for (int64_t i = 0; i < M; ++i) {
      float d[kBlock];
      if (rows == kBlock) {
        dots<kBlock>(A + i * lda, w, ldw, K, d);
      } else {
        for (int64_t r = 0; r < rows; ++r) dots<1>(A + i * lda, w + r * ldw, ldw, K, d + r);
      }
      float* c = C + i * ldc + j0;
      for (int64_t r = 0; r < rows; ++r) {
        float v = alpha * d[r];
        if (beta != 0.0f) v += beta * c[r];
        if (bias != nullptr) v += bias[j0 + r];
        c[r] = v;
      }
    }
  }
}

}  // namespace nabla::kernels::cpu
