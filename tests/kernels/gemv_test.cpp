// gemv_rows against a naive double loop (ragged K and N, padded leading dims, alpha, beta,
// bias), and its promise: row i of C is bitwise the same for any M and any thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "nabla/core/threads.h"
#include "nabla/kernels/cpu/gemm.h"
#include "nabla/kernels/cpu/gemv.h"

namespace nabla::kernels::cpu {
namespace {

std::vector<float> random_vec(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& e : v) e = dist(rng);
  return v;
}

struct Case {
  int64_t M, N, K;
};

void check(const Case& c, float alpha, float beta, bool with_bias) {
  const int64_t lda = c.K + 3, ldw = c.K + 5, ldc = c.N + 2;
  const auto A = random_vec(static_cast<size_t>(c.M * lda), 1);
  const auto W = random_vec(static_cast<size_t>(c.N * ldw), 2);
  const auto bias = random_vec(static_cast<size_t>(c.N), 3);
  auto C = random_vec(static_cast<size_t>(c.M * ldc), 4);
  const auto C0 = C;
  gemv_rows(c.M, c.N, c.K, alpha, A.data(), lda, W.data(), ldw, beta, C.data(), ldc,
            with_bias ? bias.data() : nullptr);
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < c.K; ++k) acc += double(A[i * lda + k]) * W[j * ldw + k];
      double want = alpha * acc + (with_bias ? bias[j] : 0.0);
      if (beta != 0.0f) want += double(beta) * C0[i * ldc + j];
      ASSERT_NEAR(C[i * ldc + j], want, 1e-5 * (1 + std::sqrt(double(c.K))))
          << "M=" << c.M << " N=" << c.N << " K=" << c.K << " at (" << i << ", " << j << ")";
    }
    for (int64_t j = c.N; j < ldc; ++j) {  // padding untouched
      ASSERT_EQ(C[i * ldc + j], C0[i * ldc + j]);
    }
  }
}

TEST(Gemv, MatchesDoubleReference) {
  for (const Case c : {Case{1, 1, 1}, Case{1, 7, 33}, Case{3, 5, 31}, Case{8, 9, 64},
                       Case{2, 130, 100}, Case{1, 300, 288}, Case{5, 4, 1}}) {
    check(c, 1.0f, 0.0f, false);
    check(c, 0.5f, 0.0f, true);
    check(c, 1.0f, 2.0f, true);
  }
}

TEST(Gemv, BetaZeroIgnoresNaNInOutput) {
  const auto A = random_vec(6, 1), W = random_vec(12, 2);
  std::vector<float> C(2, std::nanf(""));
  gemv_rows(1, 2, 6, 1.0f, A.data(), 6, W.data(), 6, 0.0f, C.data(), 2, nullptr);
  EXPECT_FALSE(std::isnan(C[0]) || std::isnan(C[1]));
}

// Decoding one sequence or eight, on one thread or two, gives every row the same bits.
TEST(Gemv, RowsAreBitwiseIndependentOfBatchAndThreads) {
  const int64_t N = 515, K = 777;
  const auto A = random_vec(static_cast<size_t>(kGemvMaxRows * K), 5);
  const auto W = random_vec(static_cast<size_t>(N * K), 6);
  const auto bias = random_vec(static_cast<size_t>(N), 7);
  std::vector<float> all(static_cast<size_t>(kGemvMaxRows * N));
  gemv_rows(kGemvMaxRows, N, K, 1.0f, A.data(), K, W.data(), K, 0.0f, all.data(), N,
            bias.data());
  const int saved = get_num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t i = 0; i < kGemvMaxRows; ++i) {
      std::vector<float> one(static_cast<size_t>(N));
      gemv_rows(1, N, K, 1.0f, A.data() + i * K, K, W.data(), K, 0.0f, one.data(), N,
                bias.data());
      EXPECT_EQ(std::memcmp(one.data(), all.data() + i * N, sizeof(float) * N), 0)
          << "row " << i << " with " << threads << " threads";
    }
  }
  set_num_threads(saved);
}

// gemm() takes the skinny x W^T path for f32 and still honours every GemmLayout field.
TEST(Gemv, GemmRoutesSkinnyLinearProducts) {
  const int64_t M = 2, N = 40, K = 24;
  const auto A = random_vec(static_cast<size_t>(M * K), 8), W = random_vec(size_t(N * K), 9);
  std::vector<float> via_gemm(static_cast<size_t>(M * N)), direct(via_gemm.size());
  const GemmLayout g{.M = M, .N = N, .K = K, .trans_a = false, .trans_b = true, .lda = K,
                     .ldb = K, .ldc = N};
  gemm(g, 1.0f, A.data(), W.data(), 0.0f, via_gemm.data());
  gemv_rows(M, N, K, 1.0f, A.data(), K, W.data(), K, 0.0f, direct.data(), N, nullptr);
  EXPECT_EQ(std::memcmp(via_gemm.data(), direct.data(), sizeof(float) * M * N), 0);
}

}  // namespace
}  // namespace nabla::kernels::cpu
