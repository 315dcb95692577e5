// mse_loss: naive reference for every reduction, non-contiguous operands, gradcheck (input and
// target), PyTorch fixture, bf16, shape errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/ops/ops.h"
#include "tests/ops/nn_test_helpers.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using testing::gradcheck;
using testing::random_input;

TEST(MseLoss, MatchesReferenceAllReductions) {
  const Tensor x = random_input({5, 7}, 1, -2, 2, false).to(kFloat32);
  const Tensor t = random_input({7, 5}, 2, -2, 2, false).to(kFloat32).t();  // non-contiguous
  const auto xv = x.to_vector(), tv = t.to_vector();
  std::vector<double> per(xv.size());
  double sum = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    per[i] = (xv[i] - tv[i]) * (xv[i] - tv[i]);
    sum += per[i];
  }
  EXPECT_TRUE(testing::vectors_near(mse_loss(x, t, Reduction::None).to_vector(), per, 1e-6, 1e-7));
  EXPECT_EQ(mse_loss(x, t, Reduction::None).shape(), (Shape{5, 7}));
  EXPECT_NEAR(mse_loss(x, t, Reduction::Sum).item(), sum, 1e-5 * sum);
  EXPECT_NEAR(mse_loss(x, t).item(), sum / 35, 1e-5 * sum / 35);
  EXPECT_EQ(mse_loss(x, t).dim(), 0);
}

TEST(MseLoss, Gradcheck) {
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    EXPECT_TRUE(gradcheck(
        "mse_loss", [r](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1].t(), r); },
        {random_input({3, 4}, 3), random_input({4, 3}, 4)}));
  }
}

TEST(MseLoss, MatchesPyTorch) {
  const auto fx = testing::load_fixture("nn_pointwise_losses");
  for (const auto& [name, r] : {std::pair{"mean", Reduction::Mean}, std::pair{"sum", Reduction::Sum},
                                std::pair{"none", Reduction::None}}) {
    const std::string key = std::string("mse_") + name;
    const Tensor x = testing::leaf(fx["x"], kFloat32), t = testing::leaf(fx["t"], kFloat32);
    const Tensor loss = mse_loss(x, t, r);
    EXPECT_TRUE(testing::all_close(loss, fx[key], 1e-5, 1e-6)) << key;
    loss.backward(fx[key + "_dy"]);
    EXPECT_TRUE(testing::all_close(x.grad(), fx[key + "_dx"], 1e-5, 1e-6)) << key;
    EXPECT_TRUE(testing::all_close(t.grad(), fx[key + "_dt"], 1e-5, 1e-6)) << key;
  }
}

TEST(MseLoss, BFloat16) {
  const Tensor x = random_input({64}, 5, -1, 1, false), t = random_input({64}, 6, -1, 1, false);
  const Tensor l = mse_loss(x.to(kBFloat16), t.to(kBFloat16));
  EXPECT_EQ(l.dtype(), kBFloat16);
  // inputs rounded to bf16 (2^-9 relative each), the sum in f32, the result rounded once
  EXPECT_NEAR(l.item(), mse_loss(x, t).item(), 2e-2 * mse_loss(x, t).item());
}

TEST(MseLoss, RejectsDifferentShapes) {
  EXPECT_THAT([] { mse_loss(zeros({2, 3}), zeros({3})); },
              ::testing::ThrowsMessage<ShapeError>(
                  HasSubstr("mse_loss: target [3] does not match input [2, 3]")));
}

}  // namespace
}  // namespace nabla
