// Attention of one new query per sequence over its cached keys and values (decoding), in one
// pass per head: scores, softmax and the weighted sum of values without materialising the
// (B, H, Tk, D) products that elementwise ops would.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

/// Strides (in elements) of a (B, H, T, D) tensor whose D elements are contiguous.
struct HeadStrides {
  int64_t b, h, t;
};

/// For each batch row b < B and head h < H (query head h reads key/value head h / (H / Hkv),
/// grouped-query attention): p = softmax(scale * q[b, h] . k[b, h', t] for t < Tk), out[b, h] =
/// sum_t p[t] v[b, h', t]. q (B, H, 1, D), k and v (B, Hkv, >= Tk, D), out (B, H, 1, D).
/// Heads run in parallel; each is summed in a fixed order, so results do not depend on the
/// thread count.
void attention_decode(int64_t B, int64_t H, int64_t Hkv, int64_t Tk, int64_t D, float scale,
                      const float* q, HeadStrides qs, const float* k, HeadStrides ks,
                      const float* v, HeadStrides vs, float* out, HeadStrides os);

}  // namespace nabla::kernels::cpu
