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

/// gemv_rows with W in bf16 (uint16 bit patterns, row stride ldw): each step of weights is
/// widened to f32 in registers once for up to four rows of A, so the result is bitwise that of
/// gemv_rows on the widened weights. Half the bytes of f32 to stream.
void gemv_rows_bf16(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const uint16_t* W, int64_t ldw, float beta, float* C, int64_t ldc,
                    const float* bias);

/// Weights quantized to int8 in blocks of kQ8Block along each row, one f32 scale per block
/// (llama.cpp's Q8_0 with an f32 scale): w[n][k] ~= codes[n * K + k] * scales[n * nb + k / 32],
/// nb = q8_blocks(K); the last block of a row may be short.
inline constexpr int64_t kQ8Block = 32;
inline int64_t q8_blocks(int64_t K) { return (K + kQ8Block - 1) / kQ8Block; }

/// Quantizes W (N, K; row stride ldw) to codes (N, K) and scales (N, q8_blocks(K)): scale =
/// max |w| / 127 over the block, code = round(w / scale) (0 for an all-zero block).
void quantize_q8(int64_t N, int64_t K, const float* W, int64_t ldw, int8_t* codes,
                 float* scales);
/// The f32 weights (N, K; row stride ldw) that codes and scales stand for.
void dequantize_q8(int64_t N, int64_t K, const int8_t* codes, const float* scales, float* W,
                   int64_t ldw);
/// gemv_rows with Q8 weights (codes, scales as quantize_q8 writes them): bitwise gemv_rows on
/// dequantize_q8's weights, streaming about a quarter of f32's bytes.
void gemv_rows_q8(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const int8_t* codes, const float* scales, float beta, float* C, int64_t ldc,
                  const float* bias);

}  // namespace nabla::kernels::cpu
