// GEMM: C = alpha * op(A) * op(B) + beta * C (+ bias), row-major, transposes given by layout
// flags (no copies), optionally batched with element strides. The multiply runs in a library:
// bf16 in oneDNN (AMX), f32 in oneDNN or OpenBLAS by geometry, f64 in OpenBLAS (OpenMP build),
// chosen by measurement (BENCHMARKS.md, bench/matmul_bench.cpp).
#pragma once

#include <cstdint>

#include "nabla/core/bf16.h"

namespace nabla::kernels::cpu {

/// Which library runs a GEMM. Auto is the measured best for the dtype; the others exist so
/// that bench/matmul_bench.cpp can compare the library paths.
enum class GemmBackend { Auto, OpenBlas, Dnnl };

/// The geometry of one (or `batch`) row-major products. op(A) is (M, K) and op(B) is (K, N):
/// without transpose A is stored (M, K) with row stride lda, with trans_a it is stored (K, M)
/// (so op(A) = A^T); likewise B. C is (M, N) with row stride ldc. Matrix i of the batch
/// starts at A + i * stride_a (stride 0 broadcasts one matrix over the batch), B + i *
/// stride_b, C + i * stride_c.
struct GemmLayout {
  int64_t M = 0, N = 0, K = 0;
  bool trans_a = false, trans_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  GemmBackend backend = GemmBackend::Auto;
};

/// C = alpha * op(A) op(B) + beta * C + bias, for f32. bias: (N) or nullptr, added to every
/// row. With beta == 0, C is only written (its old contents, even NaN, are ignored).
void gemm(const GemmLayout& g, float alpha, const float* A, const float* B, float beta, float* C,
          const float* bias = nullptr);
/// The same in f64.
void gemm(const GemmLayout& g, double alpha, const double* A, const double* B, double beta,
          double* C, const double* bias = nullptr);
/// bf16 inputs, f32 accumulation, f32 output.
void gemm(const GemmLayout& g, float alpha, const BFloat16* A, const BFloat16* B, float beta,
          float* C, const BFloat16* bias = nullptr);
/// bf16 inputs, f32 accumulation, bf16 output (rounded to nearest even once, at the end).
void gemm(const GemmLayout& g, float alpha, const BFloat16* A, const BFloat16* B, float beta,
          BFloat16* C, const BFloat16* bias = nullptr);

/// Number of cached oneDNN primitives (for tests of the cache).
int64_t gemm_cached_primitives();

}  // namespace nabla::kernels::cpu
