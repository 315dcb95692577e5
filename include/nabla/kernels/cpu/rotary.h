// Rotary position embeddings (RoPE, Su et al. 2021) in Meta's Llama layout: each head vector's
// interleaved pairs (x[2i], x[2i+1]) are rotated by the angle of (position, i).
#pragma once

#include <cstdint>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

/// out0 = x0 cos - sign x1 sin, out1 = sign x0 sin + x1 cos for every pair: x and out (B, T, H,
/// D) contiguous (out may be x), cos and sin (T, D/2). sign = -1 rotates back by the same angle,
/// which is the backward pass (a rotation's transpose is its inverse).
template <typename T>
void rotary_embedding(T* out, const T* x, const T* cos, const T* sin, int64_t B, int64_t T_,
                      int64_t H, int64_t D, int sign);

}  // namespace nabla::kernels::cpu
