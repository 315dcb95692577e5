// Attention over a KV cache for decoding: one query per sequence, inference only.
#pragma once

#include "nabla/core/tensor.h"

namespace nabla {

/// softmax(scale * q k^T) v for one query per sequence and head: q (B, H, 1, D), k and v
/// (B, Hkv, Tk, D) with H a multiple of Hkv (grouped-query attention: query head h reads
/// key/value head h / (H / Hkv)); f32, last dim contiguous (views of a cache are fine).
/// Returns (B, H, 1, D). The query sees every key (its position is the last). One fused pass
/// per head (kernels::cpu::attention_decode); it records no gradient, so it throws when any
/// input requires one under grad mode.
Tensor attention_decode(const Tensor& q, const Tensor& k, const Tensor& v, double scale);

}  // namespace nabla
