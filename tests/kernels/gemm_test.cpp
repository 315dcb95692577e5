// The GEMM kernel against a naive double loop: every transpose combination, f32/f64/bf16,
// both libraries for f32, padded leading dims, batches (with a broadcast operand), bias,
// alpha and beta, and the primitive cache.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nabla/kernels/cpu/gemm.h"

namespace nabla::kernels::cpu {
namespace {

struct Case {
  int64_t M, N, K;
  bool ta, tb;
  int64_t batch = 1;
  bool broadcast_b = false;
};

template <typename T>
std::vector<T> random_vec(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<T> v(n);
  for (auto& e : v) e = static_cast<T>(dist(rng));
  return v;
}

double as_double(float v) { return v; }
double as_double(double v) { return v; }
double as_double(BFloat16 v) { return static_cast<float>(v); }

// Runs one case with padded leading dims (+3) and checks every element of C.
template <typename AB, typename CT>
void check(const Case& c, GemmBackend backend, double alpha, double beta, bool with_bias,
           double tol) {
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  GemmLayout g{.M = c.M, .N = c.N, .K = c.K, .trans_a = c.ta, .trans_b = c.tb,
               .lda = a_cols + 3, .ldb = b_cols + 3, .ldc = c.N + 3, .batch = c.batch};
  g.stride_a = a_rows * g.lda;
  g.stride_b = c.broadcast_b ? 0 : b_rows * g.ldb;
  g.stride_c = c.M * g.ldc + 5;
  g.backend = backend;
  const auto A = random_vec<AB>(static_cast<size_t>(g.stride_a * c.batch), 1);
  const auto B = random_vec<AB>(static_cast<size_t>(b_rows * g.ldb * c.batch), 2);
  const auto bias = random_vec<AB>(static_cast<size_t>(c.N), 3);
  auto C = random_vec<CT>(static_cast<size_t>(g.stride_c * c.batch), 4);
  const auto C0 = C;
  using S = std::conditional_t<std::is_same_v<CT, double>, double, float>;
  gemm(g, static_cast<S>(alpha), A.data(), B.data(), static_cast<S>(beta), C.data(),
       with_bias ? bias.data() : nullptr);
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t i = 0; i < c.M; ++i) {
      for (int64_t j = 0; j < c.N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < c.K; ++k) {
          const AB a = A[b * g.stride_a + (c.ta ? k * g.lda + i : i * g.lda + k)];
          const AB w = B[b * g.stride_b + (c.tb ? j * g.ldb + k : k * g.ldb + j)];
          acc += as_double(a) * as_double(w);
        }
        const int64_t at = b * g.stride_c + i * g.ldc + j;
        const double want = alpha * acc + beta * as_double(C0[at]) +
                            (with_bias ? as_double(bias[j]) : 0.0);
        ASSERT_NEAR(as_double(C[at]), want, tol * (1 + std::abs(want)))
            << "batch " << b << " row " << i << " col " << j << " (M=" << c.M << " N=" << c.N
            << " K=" << c.K << " ta=" << c.ta << " tb=" << c.tb << ")";
      }
      // Padding between rows is untouched.
      for (int64_t j = c.N; j < g.ldc && i * g.ldc + j < g.stride_c; ++j) {
        const int64_t at = b * g.stride_c + i * g.ldc + j;
        ASSERT_EQ(as_double(C[at]), as_double(C0[at]));
      }
    }
  }
}

const Case kCases[] = {{7, 5, 3, false, false}, {7, 5, 3, true, false}, {7, 5, 3, false, true},
                       {7, 5, 3, true, true},   {33, 17, 65, true, true}, {1, 9, 4, false, true},
                       {6, 1, 11, true, false}};

TEST(Gemm, F32AllTransposesBothLibraries) {
  for (const Case& c : kCases) {
    check<float, float>(c, GemmBackend::OpenBlas, 1, 0, false, 1e-5);
    check<float, float>(c, GemmBackend::Dnnl, 1, 0, false, 1e-5);
    check<float, float>(c, GemmBackend::Auto, 1, 0, false, 1e-5);
  }
}

TEST(Gemm, F64AllTransposes) {
  for (const Case& c : kCases) check<double, double>(c, GemmBackend::Auto, 1, 0, false, 1e-12);
}

TEST(Gemm, Bf16WithF32AndBf16Output) {
  // Inputs are exact bf16 values, products accumulate in f32: only the output rounding of
  // bf16 (2^-8 relative) separates the result from the double loop.
  for (const Case& c : kCases) {
    check<BFloat16, float>(c, GemmBackend::Auto, 1, 0, false, 1e-5);
    check<BFloat16, BFloat16>(c, GemmBackend::Auto, 1, 0, false, 8e-3);
  }
}

TEST(Gemm, AlphaBetaAndBias) {
  const Case c{9, 6, 5, false, true};
  for (GemmBackend be : {GemmBackend::OpenBlas, GemmBackend::Dnnl}) {
    check<float, float>(c, be, 0.5, 0.0, true, 1e-5);
    check<float, float>(c, be, 1.0, 2.0, true, 1e-5);
    check<float, float>(c, be, -1.5, 0.25, false, 1e-5);
  }
  check<double, double>(c, GemmBackend::Auto, 2.0, -1.0, true, 1e-12);
  check<BFloat16, float>(c, GemmBackend::Auto, 1.0, 1.0, true, 1e-5);
  check<BFloat16, float>(c, GemmBackend::Auto, 0.5, 1.0, true, 1e-5);
}

TEST(Gemm, BatchedStridedAndBroadcast) {
  for (bool bcast : {false, true}) {
    for (bool ta : {false, true}) {
      const Case c{5, 4, 6, ta, !ta, 3, bcast};
      check<float, float>(c, GemmBackend::OpenBlas, 1, 0, false, 1e-5);
      check<float, float>(c, GemmBackend::Dnnl, 1, 0, true, 1e-5);
      check<double, double>(c, GemmBackend::Auto, 1, 0, false, 1e-12);
      check<BFloat16, float>(c, GemmBackend::Auto, 1, 0, false, 1e-5);
    }
  }
}

TEST(Gemm, EmptyInnerDimGivesBetaCPlusBias) {
  const Case c{3, 4, 0, false, false};
  check<float, float>(c, GemmBackend::Auto, 1, 0.5, true, 1e-6);
  check<BFloat16, float>(c, GemmBackend::Auto, 1, 0, false, 1e-6);
}

TEST(Gemm, PrimitivesAreCachedPerGeometry) {
  const Case c{10, 12, 14, false, true};
  check<BFloat16, float>(c, GemmBackend::Auto, 1, 0, false, 1e-5);
  const int64_t n = gemm_cached_primitives();
  check<BFloat16, float>(c, GemmBackend::Auto, 1, 0, false, 1e-5);
  EXPECT_EQ(gemm_cached_primitives(), n);
  check<BFloat16, float>(Case{10, 12, 15, false, true}, GemmBackend::Auto, 1, 0, false, 1e-5);
  EXPECT_EQ(gemm_cached_primitives(), n + 1);
}

TEST(Gemm, DeterministicAcrossCalls) {
  GemmLayout g{.M = 64, .N = 96, .K = 300, .trans_b = true, .lda = 300, .ldb = 300, .ldc = 96};
  const auto A = random_vec<float>(64 * 300, 5), B = random_vec<float>(96 * 300, 6);
  std::vector<float> c1(64 * 96), c2(64 * 96);
  gemm(g, 1.0f, A.data(), B.data(), 0.0f, c1.data());
  gemm(g, 1.0f, A.data(), B.data(), 0.0f, c2.data());
  EXPECT_EQ(c1, c2);
}

}  // namespace
}  // namespace nabla::kernels::cpu
