// gemv_rows against a naive double loop (ragged K and N, padded leading dims, alpha, beta,
// bias), and its promise: row i of C is bitwise the same for any M and any thread count.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "nabla/core/bf16.h"
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


// ---- bf16 and Q8 weights ----------------------------------------------------------------------

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = BFloat16(v[i]).bits;
  return out;
}

std::vector<float> widen(const std::vector<uint16_t>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = std::bit_cast<float>(uint32_t{v[i]} << 16);
  return out;
}

// Every shape: ragged K (tails of the 32-lane steps and of Q8 blocks), N not a multiple of 4.
const Case kPackedCases[] = {{1, 1, 1},   {1, 7, 33},   {3, 5, 31},   {8, 9, 64},
                             {2, 130, 100}, {1, 300, 288}, {5, 4, 1}, {8, 257, 768}};

TEST(GemvBf16, BitwiseEqualToF32OnTheWidenedWeights) {
  for (const Case& c : kPackedCases) {
    const int64_t lda = c.K + 3, ldw = c.K + 5, ldc = c.N + 2;
    const auto A = random_vec(static_cast<size_t>(c.M * lda), 1);
    const auto W = to_bf16(random_vec(static_cast<size_t>(c.N * ldw), 2));
    const auto Wf = widen(W);
    const auto bias = random_vec(static_cast<size_t>(c.N), 3);
    auto want = random_vec(static_cast<size_t>(c.M * ldc), 4), got = want;
    gemv_rows(c.M, c.N, c.K, 0.5f, A.data(), lda, Wf.data(), ldw, 2.0f, want.data(), ldc,
              bias.data());
    gemv_rows_bf16(c.M, c.N, c.K, 0.5f, A.data(), lda, W.data(), ldw, 2.0f, got.data(), ldc,
                   bias.data());
    ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
        << "M=" << c.M << " N=" << c.N << " K=" << c.K;
  }
}

TEST(GemvQ8, QuantizationErrorIsAtMostHalfAStep) {
  const int64_t N = 5, K = 70, ldw = 72, nb = q8_blocks(K);
  ASSERT_EQ(nb, 3);
  auto W = random_vec(static_cast<size_t>(N * ldw), 7);
  for (int64_t k = 32; k < 64; ++k) W[2 * ldw + k] = 0.0f;  // an all-zero block
  W[3 * ldw + 5] = -4.0f;                                    // a block's extreme value
  std::vector<int8_t> codes(static_cast<size_t>(N * K));
  std::vector<float> scales(static_cast<size_t>(N * nb)), back(static_cast<size_t>(N * ldw));
  quantize_q8(N, K, W.data(), ldw, codes.data(), scales.data());
  dequantize_q8(N, K, codes.data(), scales.data(), back.data(), ldw);
  EXPECT_EQ(scales[2 * nb + 1], 0.0f);
  EXPECT_FLOAT_EQ(scales[3 * nb + 0], 4.0f / 127.0f);
  EXPECT_EQ(codes[3 * K + 5], -127);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      const float step = scales[n * nb + k / kQ8Block];
      ASSERT_GE(codes[n * K + k], -127);
      ASSERT_LE(std::fabs(back[n * ldw + k] - W[n * ldw + k]), 0.5f * step * (1 + 1e-6f) + 1e-12f)
          << n << ", " << k;
    }
  }
}

TEST(GemvQ8, TinyBlocksQuantizeWithoutOverflow) {
  // amax / 127 is subnormal here, and 1 / scale would be infinite.
  const std::vector<float> W = {1e-38f, -3e-39f, 0.0f, 5e-40f};
  std::vector<int8_t> codes(4);
  float scale = 0;
  quantize_q8(1, 4, W.data(), 4, codes.data(), &scale);
  EXPECT_GT(scale, 0.0f);
  EXPECT_EQ(codes[0], 127);
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(codes[k] * scale, W[k], 0.5 * scale + 1e-45) << k;
  }
}

TEST(GemvQ8, BitwiseEqualToF32OnTheDequantizedWeights) {
  for (const Case& c : kPackedCases) {
    const int64_t lda = c.K + 3, ldc = c.N + 2;
    const auto A = random_vec(static_cast<size_t>(c.M * lda), 1);
    const auto W = random_vec(static_cast<size_t>(c.N * c.K), 2);
    std::vector<int8_t> codes(W.size());
    std::vector<float> scales(static_cast<size_t>(c.N * q8_blocks(c.K))), Wf(W.size());
    quantize_q8(c.N, c.K, W.data(), c.K, codes.data(), scales.data());
    dequantize_q8(c.N, c.K, codes.data(), scales.data(), Wf.data(), c.K);
    const auto bias = random_vec(static_cast<size_t>(c.N), 3);
    auto want = random_vec(static_cast<size_t>(c.M * ldc), 4), got = want;
    gemv_rows(c.M, c.N, c.K, 1.0f, A.data(), lda, Wf.data(), c.K, 0.0f, want.data(), ldc,
              bias.data());
    gemv_rows_q8(c.M, c.N, c.K, 1.0f, A.data(), lda, codes.data(), scales.data(), 0.0f,
                 got.data(), ldc, bias.data());
    ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
        << "M=" << c.M << " N=" << c.N << " K=" << c.K;
  }
}

TEST(GemvQ8, SameResultForAnyThreadCount) {
  const int64_t M = 3, N = 515, K = 300;
  const auto A = random_vec(static_cast<size_t>(M * K), 1);
  const auto W = random_vec(static_cast<size_t>(N * K), 2);
  std::vector<int8_t> codes(W.size());
  std::vector<float> scales(static_cast<size_t>(N * q8_blocks(K)));
  quantize_q8(N, K, W.data(), K, codes.data(), scales.data());
  std::vector<float> one(static_cast<size_t>(M * N)), two(one.size());
  const int saved = get_num_threads();
  set_num_threads(1);
  gemv_rows_q8(M, N, K, 1.0f, A.data(), K, codes.data(), scales.data(), 0.0f, one.data(), N,
               nullptr);
  set_num_threads(2);
  gemv_rows_q8(M, N, K, 1.0f, A.data(), K, codes.data(), scales.data(), 0.0f, two.data(), N,
               nullptr);
  set_num_threads(saved);
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
}

}  // namespace
}  // namespace nabla::kernels::cpu
