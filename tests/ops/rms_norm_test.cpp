// rms_norm: naive double reference, non-contiguous input, gradcheck, PyTorch fixture, bf16.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/ops/ops.h"
#include "tests/ops/nn_test_helpers.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using testing::gradcheck;
using testing::random_input;
using testing::vectors_near;

std::vector<double> rms_norm_ref(const std::vector<double>& x, const std::vector<double>& w,
                                 size_t C, double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / C; ++r) {
    double ms = 0;
    for (size_t c = 0; c < C; ++c) ms += x[r * C + c] * x[r * C + c] / static_cast<double>(C);
    for (size_t c = 0; c < C; ++c) {
      y[r * C + c] = x[r * C + c] / std::sqrt(ms + eps) * (w.empty() ? 1.0 : w[c]);
    }
  }
  return y;
}

TEST(RmsNorm, MatchesReferenceOddSizes) {
  const Tensor x = random_input({7, 19}, 1, -2, 2, false).to(kFloat32);
  const Tensor w = random_input({19}, 2, false).to(kFloat32);
  const Tensor y = rms_norm(x, w, 1e-6);
  EXPECT_TRUE(vectors_near(y.to_vector(), rms_norm_ref(x.to_vector(), w.to_vector(), 19, 1e-6),
                           1e-5, 1e-6));
}

TEST(RmsNorm, NonContiguousInput) {
  const Tensor x = random_input({9, 5}, 3, -1, 1, false).t();  // (5, 9)
  ASSERT_FALSE(x.is_contiguous());
  const Tensor w = random_input({9}, 4, false);
  EXPECT_TRUE(vectors_near(rms_norm(x, w).to_vector(),
                           rms_norm_ref(x.to_vector(), w.to_vector(), 9, 1e-5), 1e-12, 1e-12));
  EXPECT_TRUE(vectors_near(rms_norm(x, Tensor()).to_vector(),
                           rms_norm_ref(x.to_vector(), {}, 9, 1e-5), 1e-12, 1e-12));
}

TEST(RmsNorm, Gradcheck) {
  EXPECT_TRUE(gradcheck("rms_norm",
                        [](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1]); },
                        {random_input({3, 6}, 5), random_input({6}, 6)}));
  EXPECT_TRUE(gradcheck("rms_norm",
                        [](const std::vector<Tensor>& in) { return rms_norm(in[0].t(), in[1]); },
                        {random_input({6, 3}, 7), random_input({6}, 8)}));
}

TEST(RmsNorm, MatchesPyTorch) {
  const auto fx = testing::load_fixture("nn_rms_norm");
  const Tensor x = testing::leaf(fx["x"], kFloat32), w = testing::leaf(fx["w"], kFloat32);
  const Tensor y = rms_norm(x, w, fx.meta["eps"].get<double>());
  EXPECT_TRUE(testing::all_close(y, fx["out"], 1e-5, 1e-6));
  y.backward(fx["dy"]);
  EXPECT_TRUE(testing::all_close(x.grad(), fx["dx"], 1e-4, 1e-5));
  EXPECT_TRUE(testing::all_close(w.grad(), fx["dw"], 1e-4, 1e-5));
}

TEST(RmsNorm, BFloat16ComputesInF32) {
  const Tensor x = random_input({3, 40}, 9, -3, 3, false).to(kBFloat16);
  const Tensor w = random_input({40}, 10, false).to(kBFloat16);
  const Tensor y = rms_norm(x, w);
  EXPECT_EQ(y.dtype(), kBFloat16);
  EXPECT_TRUE(testing::all_close(y, rms_norm(x.to(kFloat32), w.to(kFloat32)), 8e-3, 1e-3));
}

TEST(RmsNorm, RejectsMismatchedWeight) {
  EXPECT_THAT([] { rms_norm(random_input({2, 5}, 1, -1, 1, false), random_input({2, 5}, 2)); },
              ::testing::ThrowsMessage<ShapeError>(HasSubstr("rms_norm: weight [2, 5]")));
}

}  // namespace
}  // namespace nabla
