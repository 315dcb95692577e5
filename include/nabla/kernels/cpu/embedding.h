// Embedding lookup over flat buffers. Backward groups positions by vocabulary row (a counting
// sort) and sums each row's gradients in position order, so results never depend on threads.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

/// out (N, C) <- rows idx (N) of weight (V, C). Indices must lie in [0, V): the op checks.
template <typename T>
void embedding_forward(T* out, const int64_t* idx, const T* weight, int64_t N, int64_t C);

/// dweight (V, C) += dout (N, C) rows scattered to rows idx (N); row padding_idx (when >= 0)
/// receives nothing. Sums run in f32 for bf16.
template <typename T>
void embedding_backward(T* dweight, const T* dout, const int64_t* idx, int64_t N, int64_t V,
                        int64_t C, int64_t padding_idx);

}  // namespace nabla::kernels::cpu
