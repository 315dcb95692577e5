// GEMM over oneDNN (bf16, most f32) and OpenBLAS (f64, some f32: see f32_backend); a skinny
// f32 x W^T goes to gemv_rows. oneDNN primitives are expensive to create (0.1-several ms), so
// each one is made once per geometry and kept in a map keyed by (shape, strides, dtypes, alpha,
// beta, bias, threads); keys are compared exactly, so the same call always runs the same
// primitive (deterministic).
#include "nabla/kernels/cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <array>
#include <bit>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <type_traits>
#include <unordered_map>

#include "nabla/core/error.h"
#include "nabla/kernels/cpu/gemv.h"

namespace nabla::kernels::cpu {

namespace {

using dnnl::memory;

template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

// C = beta * C + bias (rows of N), so that a library call with beta = 1 finishes the job.
template <typename CT, typename BT>
void prepare_c(const GemmLayout& g, CT* C, acc_t<CT> beta, const BT* bias) {
  using A = acc_t<CT>;
  for (int64_t b = 0; b < g.batch; ++b) {
    CT* c = C + b * g.stride_c;
#pragma omp parallel for if (g.M * g.N > (1 << 15)) schedule(static)
    for (int64_t i = 0; i < g.M; ++i) {
      CT* row = c + i * g.ldc;
      for (int64_t j = 0; j < g.N; ++j) {
        const A old = beta == A(0) ? A(0) : beta * static_cast<A>(row[j]);
        const A add = bias ? static_cast<A>(bias[j]) : A(0);
        row[j] = static_cast<CT>(old + add);
      }
    }
  }
}

bool empty_output(const GemmLayout& g) { return g.M == 0 || g.N == 0 || g.batch == 0; }

// ---- OpenBLAS ------------------------------------------------------------------------------

void blas_call(const GemmLayout& g, float alpha, const float* A, const float* B, float beta,
               float* C) {
  cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans,
              g.trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(g.M),
              static_cast<blasint>(g.N), static_cast<blasint>(g.K), alpha, A,
              static_cast<blasint>(g.lda), B, static_cast<blasint>(g.ldb), beta, C,
              static_cast<blasint>(g.ldc));
}

void blas_call(const GemmLayout& g, double alpha, const double* A, const double* B, double beta,
               double* C) {
  cblas_dgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans,
              g.trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(g.M),
              static_cast<blasint>(g.N), static_cast<blasint>(g.K), alpha, A,
              static_cast<blasint>(g.lda), B, static_cast<blasint>(g.ldb), beta, C,
              static_cast<blasint>(g.ldc));
}

template <typename T>
void blas_gemm(const GemmLayout& g, T alpha, const T* A, const T* B, T beta, T* C, const T* bias) {
  if (bias != nullptr) {
    prepare_c(g, C, beta, bias);
    beta = T(1);
  }
  for (int64_t b = 0; b < g.batch; ++b) {
    blas_call(g, alpha, A + b * g.stride_a, B + b * g.stride_b, beta, C + b * g.stride_c);
  }
}

// ---- oneDNN --------------------------------------------------------------------------------

template <typename T>
constexpr memory::data_type dnnl_type() {
  if constexpr (std::is_same_v<T, float>) return memory::data_type::f32;
  if constexpr (std::is_same_v<T, BFloat16>) return memory::data_type::bf16;
  return memory::data_type::undef;
}

struct DnnlGemm {
  memory::desc a, b, c, bias;
  dnnl::matmul prim;
};

using Key = std::array<int64_t, 18>;

std::mutex cache_mutex;
std::map<Key, std::unique_ptr<DnnlGemm>> cache;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// A matrix operand of `rows` x `cols` (after op()), stored transposed when trans.
memory::desc operand_desc(const GemmLayout& g, int64_t rows, int64_t cols, bool trans, int64_t ld,
                          int64_t batch_stride, memory::data_type dt) {
  const memory::dims strides2 = trans ? memory::dims{1, ld} : memory::dims{ld, 1};
  if (g.batch == 1) return {{rows, cols}, dt, strides2};
  const int64_t nb = batch_stride == 0 ? 1 : g.batch;
  const int64_t bs = batch_stride == 0 ? rows * cols : batch_stride;
  return {{nb, rows, cols}, dt, {bs, strides2[0], strides2[1]}};
}

std::unique_ptr<DnnlGemm> make_dnnl_gemm(const GemmLayout& g, memory::data_type ab,
                                         memory::data_type ct, memory::data_type bias_t,
                                         float alpha, float beta) {
  auto e = std::make_unique<DnnlGemm>();
  e->a = operand_desc(g, g.M, g.K, g.trans_a, g.lda, g.stride_a, ab);
  e->b = operand_desc(g, g.K, g.N, g.trans_b, g.ldb, g.stride_b, ab);
  e->c = operand_desc(g, g.M, g.N, false, g.ldc, g.stride_c, ct);
  if (bias_t != memory::data_type::undef) {
    e->bias = g.batch == 1 ? memory::desc({1, g.N}, bias_t, memory::dims{g.N, 1})
                           : memory::desc({1, 1, g.N}, bias_t, memory::dims{g.N, g.N, 1});
  }
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(beta);
    attr.set_post_ops(po);
  }
  const dnnl::matmul::desc desc = bias_t == memory::data_type::undef
                                      ? dnnl::matmul::desc(e->a, e->b, e->c)
                                      : dnnl::matmul::desc(e->a, e->b, e->bias, e->c);
  e->prim = dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, engine()));
  return e;
}

// The cached primitive for this call, made on first use.
const DnnlGemm& dnnl_gemm_for(const GemmLayout& g, memory::data_type ab, memory::data_type ct,
                              memory::data_type bias_t, float alpha, float beta) {
  const Key key{g.M, g.N, g.K, g.trans_a, g.trans_b, g.lda, g.ldb, g.ldc, g.batch, g.stride_a,
                g.stride_b, g.stride_c, static_cast<int64_t>(ab), static_cast<int64_t>(ct),
                static_cast<int64_t>(bias_t), std::bit_cast<uint32_t>(alpha),
                std::bit_cast<uint32_t>(beta), omp_get_max_threads()};
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make_dnnl_gemm(g, ab, ct, bias_t, alpha, beta)).first;
  return *it->second;
}

template <typename AB, typename CT>
void dnnl_gemm(const GemmLayout& g, float alpha, const AB* A, const AB* B, float beta, CT* C,
               const AB* bias) {
  // oneDNN applies output scales after the bias; keep C = alpha AB + bias exact by fusing the
  // bias only when alpha is 1.
  if (bias != nullptr && alpha != 1.0f) {
    prepare_c(g, C, beta, bias);
    beta = 1.0f;
    bias = nullptr;
  }
  const memory::data_type bias_t = bias ? dnnl_type<AB>() : memory::data_type::undef;
  try {
    const DnnlGemm& e = dnnl_gemm_for(g, dnnl_type<AB>(), dnnl_type<CT>(), bias_t, alpha, beta);
    static thread_local dnnl::stream stream(engine());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(e.a, engine(), const_cast<AB*>(A))},
        {DNNL_ARG_WEIGHTS, memory(e.b, engine(), const_cast<AB*>(B))},
        {DNNL_ARG_DST, memory(e.c, engine(), C)}};
    if (bias != nullptr) args.emplace(DNNL_ARG_BIAS, memory(e.bias, engine(), const_cast<AB*>(bias)));
    e.prim.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& err) {
    NABLA_CHECK(false, "gemm: oneDNN failed (", err.what(), ") for M=", g.M, " N=", g.N, " K=", g.K,
                " batch=", g.batch);
  }
}

template <typename AB, typename CT>
bool trivial_case(const GemmLayout& g, acc_t<CT> beta, CT* C, const AB* bias) {
  if (empty_output(g)) return true;
  if (g.K == 0) {  // op(A) op(B) is all zeros
    prepare_c(g, C, beta, bias);
    return true;
  }
  return false;
}

// The f32 library for Auto, a pure function of the geometry (so results are deterministic).
// Measured on this CPU (bench/matmul_bench.cpp, 1 and 2 threads, GPT-2 shapes, M = 256):
// oneDNN 2.6's f32 matmul beats OpenBLAS by 1.2-2x on x W^T, dy W and dy^T x, except for a
// plain (untransposed) B whose N is 3 * 2^k >= 3072, where it drops to 0.6x (N = 3072, K = 768:
// 7.5 vs 12.3 GFLOP/s on one thread; N = 2048, 3000, 4096 are fine).
GemmBackend f32_backend(const GemmLayout& g) {
  if (g.backend != GemmBackend::Auto) return g.backend;
  const bool odd_multiple = g.N >= 3072 && g.N % 1024 == 0 && (g.N & (g.N - 1)) != 0;
  return !g.trans_b && odd_multiple ? GemmBackend::OpenBlas : GemmBackend::Dnnl;
}

}  // namespace

void gemm(const GemmLayout& g, float alpha, const float* A, const float* B, float beta, float* C,
          const float* bias) {
  if (trivial_case(g, beta, C, bias)) return;
  // x W^T for a few rows (decoding): both libraries stream W at a fraction of memory
  // bandwidth there (BENCHMARKS.md, "Decode").
  if (g.backend == GemmBackend::Auto && g.batch == 1 && g.M <= kGemvMaxRows && !g.trans_a &&
      g.trans_b) {
    gemv_rows(g.M, g.N, g.K, alpha, A, g.lda, B, g.ldb, beta, C, g.ldc, bias);
    return;
  }
  if (f32_backend(g) == GemmBackend::Dnnl) {
    dnnl_gemm(g, alpha, A, B, beta, C, bias);
  } else {
    blas_gemm(g, alpha, A, B, beta, C, bias);
  }
}

void gemm(const GemmLayout& g, double alpha, const double* A, const double* B, double beta,
          double* C, const double* bias) {
  if (trivial_case(g, beta, C, bias)) return;
  blas_gemm(g, alpha, A, B, beta, C, bias);  // oneDNN has no f64 matmul on CPU
}

void gemm(const GemmLayout& g, float alpha, const BFloat16* A, const BFloat16* B, float beta,
          float* C, const BFloat16* bias) {
  if (trivial_case(g, beta, C, bias)) return;
  dnnl_gemm(g, alpha, A, B, beta, C, bias);
}

void gemm(const GemmLayout& g, float alpha, const BFloat16* A, const BFloat16* B, float beta,
          BFloat16* C, const BFloat16* bias) {
  if (trivial_case(g, beta, C, bias)) return;
  dnnl_gemm(g, alpha, A, B, beta, C, bias);
}

int64_t gemm_cached_primitives() {
  std::lock_guard<std::mutex> lock(cache_mutex);
  return static_cast<int64_t>(cache.size());
}

}  // namespace nabla::kernels::cpu
