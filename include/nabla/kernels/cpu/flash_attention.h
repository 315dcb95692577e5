// Causal attention, flash-style (Dao et al. 2022, FlashAttention-2 2023): keys in tiles with
// an online softmax, so forward keeps only the output and one logsumexp per query row, and
// backward recomputes the probabilities tile by tile. No (Tq, Tk) matrix is ever stored.
#pragma once

#include <cstdint>

#include "nabla/kernels/cpu/attention.h"

namespace nabla::kernels::cpu {

/// Sizes of one causal attention: q (B, H, Tq, D), k and v (B, Hkv, Tk, D), H a multiple of
/// Hkv (query head h reads key/value head h / (H / Hkv)), Tq <= Tk. Query i sits at position
/// Tk - Tq + i and attends keys 0 .. Tk - Tq + i.
struct FlashAttentionShape {
  int64_t B, H, Hkv, Tq, Tk, D;
};

/// Dropout on the attention probabilities: probability p (0 <= p < 1; 0 turns it off); the
/// probability of (b, h, i, j) is kept when the Philox draw for counter
/// offset + ((b * H + h) * Tq + i) * Tk + j under key seed is >= p (the dropout kernel's rule
/// over a row-major (B, H, Tq, Tk) tensor), so backward regenerates the mask.
struct AttentionDropout {
  double p = 0.0;
  uint64_t seed = 0, offset = 0;
};

/// out (B, H, Tq, D) contiguous = dropout(softmax(scale * q k^T + causal mask)) v; lse
/// (B, H, Tq) = logsumexp of each row of the scaled, masked scores (before dropout). q, k, v:
/// D contiguous, other dims strided. T is float or double. Work runs in parallel over
/// (b, key/value head); each row is summed in a fixed order, so results do not depend on the
/// thread count.
template <typename T>
void flash_attention_forward(T* out, T* lse, const T* q, HeadStrides qs, const T* k,
                             HeadStrides ks, const T* v, HeadStrides vs,
                             const FlashAttentionShape& s, double scale,
                             const AttentionDropout& drop);

/// dq (B, H, Tq, D), dk and dv (B, Hkv, Tk, D), contiguous, += the gradients of the forward
/// above, given dout (B, H, Tq, D) contiguous, its out and lse. Parallel over (b, key/value
/// head): each thread owns its dk, dv and dq rows and adds into them in a fixed order, so
/// results do not depend on the thread count.
template <typename T>
void flash_attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse,
                              const T* q, HeadStrides qs, const T* k, HeadStrides ks,
                              const T* v, HeadStrides vs, const FlashAttentionShape& s,
                              double scale, const AttentionDropout& drop);

}  // namespace nabla::kernels::cpu
