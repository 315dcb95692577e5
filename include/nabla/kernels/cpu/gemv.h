// Skinny f32 products C = alpha * A W^T + beta * C + bias for a few rows of A (decoding one
// token per sequence). Each weight row is read from memory once for all rows of A, so the
// product runs at memory bandwidth where a general GEMM library, tuned for large M, does not.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

/// Most rows of A that gemv_rows takes; gemm() sends f32 products this skinny here.
inline constexpr int64_t kGemvMaxRows = 8;

/// C (M, N; row stride ldc) = alpha * A (M, K; row stride lda) times W^T, with W stored
/// (N, K) row-major with row stride ldw, + beta * C (+ bias (N) on every row). With beta == 0
/// C is only written. Each output is one dot product summed in a fixed order, so row i of C
/// is bitwise the same for any M and any thread count.
void gemv_rows(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* W, int64_t ldw, float beta, float* C, int64_t ldc,
               const float* bias);

}  // namespace nabla::kernels::cpu
