// Fused attention: causal attention with a hand-written backward (training, prefill), and
// attention over a KV cache for decoding (one query per sequence, inference only).
#pragma once

#include "nabla/core/rng.h"
#include "nabla/core/tensor.h"

namespace nabla {

/// Causal scaled dot-product attention, fused (flash-style: no (Tq, Tk) matrix is stored):
/// dropout(softmax(scale * q k^T + mask)) v, with q (B, H, Tq, D), k and v (B, Hkv, Tk, D),
/// H a multiple of Hkv (query head h reads key/value head h / (H / Hkv), read in place) and
/// Tq <= Tk: query i sits at position Tk - Tq + i and attends keys 0 .. Tk - Tq + i (prefill
/// after a cache). Returns (B, H, Tq, D). dropout_p > 0 drops attention probabilities with
/// draws from gen (the default generator when null), the same draws as dropout() over the
/// (B, H, Tq, Tk) probabilities; pass 0 outside training. f32 (f64 for gradcheck); D must be
/// contiguous in memory or q, k, v are copied. For Tq == Tk, torch's
/// F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True, scale=scale).
Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                        double dropout_p = 0.0, Generator* gen = nullptr);

/// softmax(scale * q k^T) v for one query per sequence and head: q (B, H, 1, D), k and v
/// (B, Hkv, Tk, D) with H a multiple of Hkv (grouped-query attention: query head h reads
/// key/value head h / (H / Hkv)); f32, last dim contiguous (views of a cache are fine).
/// Returns (B, H, 1, D). The query sees every key (its position is the last). One fused pass
/// per head (kernels::cpu::attention_decode); it records no gradient, so it throws when any
/// input requires one under grad mode.
Tensor attention_decode(const Tensor& q, const Tensor& k, const Tensor& v, double scale);

}  // namespace nabla
