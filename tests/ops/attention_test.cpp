// attention_decode against a double-precision reference: grouped-query heads, strided views of
// a larger cache, odd head sizes; the same bits for any thread count; clear errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/threads.h"
#include "nabla/ops/attention.h"
#include "nabla/ops/ops.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// out[b, h, 0, :] in double from contiguous copies.
std::vector<double> reference(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  const int64_t B = q.size(0), H = q.size(1), Hkv = k.size(1), Tk = k.size(2), D = q.size(3);
  const float *qp = qc.data<float>(), *kp = kc.data<float>(), *vp = vc.data<float>();
  std::vector<double> out(static_cast<size_t>(B * H * D));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t hk = h / (H / Hkv);
      std::vector<double> s(static_cast<size_t>(Tk));
      double max = -INFINITY, sum = 0;
      for (int64_t t = 0; t < Tk; ++t) {
        for (int64_t d = 0; d < D; ++d) {
          s[t] += double(qp[(b * H + h) * D + d]) * kp[((b * Hkv + hk) * Tk + t) * D + d];
        }
        s[t] *= scale;
        max = std::max(max, s[t]);
      }
      for (double& e : s) sum += (e = std::exp(e - max));
      for (int64_t t = 0; t < Tk; ++t) {
        for (int64_t d = 0; d < D; ++d) {
          out[(b * H + h) * D + d] += s[t] / sum * vp[((b * Hkv + hk) * Tk + t) * D + d];
        }
      }
    }
  }
  return out;
}

TEST(AttentionDecode, MatchesDoubleReferenceOnCacheViews) {
  Generator g(1);
  for (const int64_t D : {8, 20, 64}) {
    for (const int64_t Tk : {1, 5, 37}) {
      const int64_t B = 2, H = 4, Hkv = 2;
      const Tensor q = randn({B, H, 1, D}, {}, &g);
      // The cache holds 50 positions of 3 rows; the op sees rows [0, 2) and positions [0, Tk).
      const Tensor kc = randn({3, Hkv, 50, D}, {}, &g), vc = randn({3, Hkv, 50, D}, {}, &g);
      const Tensor k = kc.narrow(0, 0, B).narrow(2, 0, Tk), v = vc.narrow(0, 0, B).narrow(2, 0, Tk);
      const double scale = 1.0 / std::sqrt(double(D));
      const Tensor out = attention_decode(q, k, v, scale);
      ASSERT_EQ(out.shape(), Shape({B, H, 1, D}));
      const auto want = reference(q, k, v, scale);
      const float* o = out.data<float>();
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(o[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << "D=" << D << " Tk=" << Tk;
      }
    }
  }
}

TEST(AttentionDecode, SameBitsForAnyThreadCount) {
  Generator g(2);
  const Tensor q = randn({2, 8, 1, 64}, {}, &g), k = randn({2, 8, 300, 64}, {}, &g),
               v = randn({2, 8, 300, 64}, {}, &g);
  const int saved = get_num_threads();
  set_num_threads(1);
  const Tensor one = attention_decode(q, k, v, 0.125);
  set_num_threads(2);
  const Tensor two = attention_decode(q, k, v, 0.125);
  set_num_threads(saved);
  EXPECT_EQ(0, std::memcmp(one.data<float>(), two.data<float>(), sizeof(float) * one.numel()));
}

TEST(AttentionDecode, BadInputIsAClearError) {
  const Tensor q = randn({1, 4, 1, 8}), k = randn({1, 2, 5, 8});
  EXPECT_THAT([&] { attention_decode(q, randn({1, 3, 5, 8}), randn({1, 3, 5, 8}), 1.0); },
              ThrowsMessage<ShapeError>(HasSubstr("H a multiple of Hkv")));
  EXPECT_THAT([&] { attention_decode(randn({1, 4, 2, 8}), k, k, 1.0); },
              ThrowsMessage<ShapeError>(HasSubstr("got q [1, 4, 2, 8]")));
  EXPECT_THAT([&] { attention_decode(q.to(kFloat64), k, k, 1.0); },
              ThrowsMessage<DTypeError>(HasSubstr("must be f32")));
  const Tensor qg = randn({1, 4, 1, 8}).requires_grad_(true);
  EXPECT_THAT([&] { attention_decode(qg, k, k, 1.0); },
              ThrowsMessage<Error>(HasSubstr("records no gradient")));
  NoGradGuard no_grad;
  EXPECT_EQ(attention_decode(qg, k, k, 1.0).shape(), Shape({1, 4, 1, 8}));
}

}  // namespace
}  // namespace nabla
