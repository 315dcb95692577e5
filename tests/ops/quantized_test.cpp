// Packed inference weights: bf16 and Q8 round trips, linear over them equal to linear over the
// unpacked f32 weights (bitwise: the same summation), gradients to the input and bias against
// a double reference, and clear errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "nabla/ops/ops.h"
#include "nabla/ops/quantized.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

Tensor rand_f32(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return randn(s, {}, &g);
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  return ac.shape() == bc.shape() &&
         std::memcmp(ac.data<float>(), bc.data<float>(), sizeof(float) * ac.numel()) == 0;
}

TEST(PackedWeight, Bf16UnpacksToTheRoundedWeights) {
  const Tensor w = rand_f32({7, 45}, 1);
  const PackedWeight p = PackedWeight::pack(w, WeightFormat::BF16);
  EXPECT_EQ(p.format(), WeightFormat::BF16);
  EXPECT_EQ(p.out_features(), 7);
  EXPECT_EQ(p.in_features(), 45);
  EXPECT_EQ(p.nbytes(), 7 * 45 * 2);
  EXPECT_TRUE(bitwise_equal(p.unpack(), w.to(kBFloat16).to(kFloat32)));
}

TEST(PackedWeight, Q8StaysWithinHalfAStepOfEachBlock) {
  const Tensor w = rand_f32({6, 70}, 2);
  const PackedWeight p = PackedWeight::pack(w, WeightFormat::Q8);
  EXPECT_EQ(p.nbytes(), 6 * 70 + 4 * 6 * 3);  // codes + one f32 scale per block of 32
  ASSERT_EQ(p.scales().shape(), Shape({6, 3}));
  const Tensor back = p.unpack();
  const float* wp = w.data<float>();
  const float* bp = back.data<float>();
  const float* sp = p.scales().data<float>();
  for (int64_t n = 0; n < 6; ++n) {
    for (int64_t b = 0; b < 3; ++b) {
      double amax = 0;
      for (int64_t k = 32 * b; k < std::min<int64_t>(70, 32 * b + 32); ++k) {
        amax = std::max(amax, double(std::fabs(wp[n * 70 + k])));
      }
      const double step = amax / 127.0;
      EXPECT_NEAR(sp[n * 3 + b], step, 1e-7 * amax);
      for (int64_t k = 32 * b; k < std::min<int64_t>(70, 32 * b + 32); ++k) {
        ASSERT_LE(std::fabs(bp[n * 70 + k] - wp[n * 70 + k]),
                  0.5 * step * (1 + 1e-5));
      }
    }
  }
}

TEST(PackedLinear, EqualsLinearOnTheUnpackedWeights) {
  for (const WeightFormat f : {WeightFormat::BF16, WeightFormat::Q8}) {
    const Tensor w = rand_f32({33, 70}, 3), b = rand_f32({33}, 4);
    const PackedWeight p = PackedWeight::pack(w, f);
    // 1 and 6 rows take the gemv path, 2 x 9 = 18 rows unpack and run a GEMM.
    for (const Shape& xs : {Shape{70}, Shape{2, 3, 70}, Shape{2, 9, 70}}) {
      const Tensor x = rand_f32(xs, 5);
      EXPECT_TRUE(bitwise_equal(linear(x, p, b), linear(x, p.unpack(), b)))
          << weight_format_name(f) << " " << xs;
      EXPECT_TRUE(bitwise_equal(linear(x, p), linear(x, p.unpack()))) << xs;
    }
  }
}

TEST(PackedLinear, GradientsReachInputAndBiasNotTheWeight) {
  for (const WeightFormat f : {WeightFormat::BF16, WeightFormat::Q8}) {
    for (const int64_t rows : {3, 12}) {
      const PackedWeight p = PackedWeight::pack(rand_f32({5, 40}, 6), f);
      const Tensor x = rand_f32({rows, 40}, 7).requires_grad_(true);
      const Tensor b = rand_f32({5}, 8).requires_grad_(true);
      const Tensor dy = rand_f32({rows, 5}, 9);
      (linear(x, p, b) * dy).sum().backward();
      // dx = dy W and db = sum of dy over rows, in double.
      const Tensor W = p.unpack();
      const float* Wp = W.data<float>();
      const float* dyp = dy.data<float>();
      const float* gx = x.grad().data<float>();
      const float* gb = b.grad().data<float>();
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t k = 0; k < 40; ++k) {
          double want = 0;
          for (int64_t j = 0; j < 5; ++j) want += double(dyp[i * 5 + j]) * Wp[j * 40 + k];
          ASSERT_NEAR(gx[i * 40 + k], want, 1e-5) << i << ", " << k;
        }
      }
      for (int64_t j = 0; j < 5; ++j) {
        double want = 0;
        for (int64_t i = 0; i < rows; ++i) want += dyp[i * 5 + j];
        EXPECT_NEAR(gb[j], want, 1e-5);
      }
    }
  }
}

TEST(PackedLinear, BadInputIsAClearError) {
  const PackedWeight p = PackedWeight::pack(rand_f32({4, 8}, 1), WeightFormat::Q8);
  EXPECT_THAT([&] { linear(rand_f32({2, 9}, 2), p); },
              ThrowsMessage<Error>(HasSubstr("linear: input [2, 9] and packed weight [4, 8]")));
  EXPECT_THAT([&] { linear(rand_f32({2, 8}, 2).to(kFloat64), p); },
              ThrowsMessage<Error>(HasSubstr("int8 packed weight takes f32 input, got torch.float64")));
  EXPECT_THAT([&] { linear(rand_f32({2, 8}, 2), p, rand_f32({5}, 3)); },
              ThrowsMessage<Error>(HasSubstr("bias [5] does not match packed weight [4, 8]")));
  Tensor bad = rand_f32({2, 3}, 4);
  bad.data<float>()[4] = NAN;
  EXPECT_THAT([&] { PackedWeight::pack(bad, WeightFormat::BF16); },
              ThrowsMessage<Error>(HasSubstr("non-finite value (nan) at flat index 4")));
  EXPECT_THAT([&] { PackedWeight::pack(rand_f32({4}, 5), WeightFormat::Q8); },
              ThrowsMessage<Error>(HasSubstr("expected a 2-D floating weight, got [4]")));
  EXPECT_THAT([&] { PackedWeight::pack(rand_f32({2, 2}, 5), WeightFormat::F32); },
              ThrowsMessage<Error>(HasSubstr("f32 is not a packed format")));
  EXPECT_EQ(weight_format_from_name("int8"), WeightFormat::Q8);
  EXPECT_EQ(weight_format_from_name("bf16"), WeightFormat::BF16);
  EXPECT_THAT([&] { weight_format_from_name("int4"); },
              ThrowsMessage<Error>(HasSubstr("expected f32, bf16 or int8, got 'int4'")));
}

}  // namespace
}  // namespace nabla
