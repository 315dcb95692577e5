// attention_decode: per head, scores as 16-lane dot products (fixed reduction tree), a softmax
// with the maximum subtracted and the sum of exponentials in double, then the values summed
// over t in order, D lanes at a time.
#include "nabla/kernels/cpu/attention.h"

#include <omp.h>

#include <cmath>
#include <vector>

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kLanes = 16;

float dot(const float* __restrict a, const float* __restrict b, int64_t D) {
  float s[kLanes] = {};
  const int64_t body = D - D % kLanes;
  for (int64_t d = 0; d < body; d += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) s[l] += a[d + l] * b[d + l];
  }
  for (int64_t d = body; d < D; ++d) s[d - body] += a[d] * b[d];
  for (int64_t w = kLanes / 2; w >= 1; w /= 2) {
    for (int64_t l = 0; l < w; ++l) s[l] += s[l + w];
  }
  return s[0];
}

}  // namespace

void attention_decode(int64_t B, int64_t H, int64_t Hkv, int64_t Tk, int64_t D, float scale,
                      const float* q, HeadStrides qs, const float* k, HeadStrides ks,
                      const float* v, HeadStrides vs, float* out, HeadStrides os) {
  const int64_t rep = H / Hkv;
  // Threads pay off once a head's work (2 * Tk * D flops) adds up over the heads.
#pragma omp parallel if (B * H * Tk * D >= (1 << 15))
  {
    std::vector<float> p(static_cast<size_t>(Tk));
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < B * H; ++bh) {
      const int64_t b = bh / H, h = bh % H, hk = h / rep;
      const float* qh = q + b * qs.b + h * qs.h;
      const float* kh = k + b * ks.b + hk * ks.h;
      const float* vh = v + b * vs.b + hk * vs.h;
      float* o = out + b * os.b + h * os.h;
      float max = -INFINITY;
      for (int64_t t = 0; t < Tk; ++t) {
        p[t] = dot(qh, kh + t * ks.t, D) * scale;
        max = p[t] > max ? p[t] : max;
      }
      double sum = 0.0;
      for (int64_t t = 0; t < Tk; ++t) {
        p[t] = std::exp(p[t] - max);
        sum += p[t];
      }
      const auto inv = static_cast<float>(1.0 / sum);
      for (int64_t d = 0; d < D; ++d) o[d] = 0.0f;
      for (int64_t t = 0; t < Tk; ++t) {
        const float w = p[t] * inv;
        const float* vt = vh + t * vs.t;
        for (int64_t d = 0; d < D; ++d) o[d] += w * vt[d];
      }
    }
  }
}

}  // namespace nabla::kernels::cpu
