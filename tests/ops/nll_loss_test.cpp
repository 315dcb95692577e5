// nll_loss: naive reference with ignore_index, (N, C, d) layout, gradcheck, PyTorch fixture.
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

TEST(NllLoss, MatchesReference) {
  const Tensor lp = random_input({6, 4}, 1, -3, 0, false).t();  // (4, 6) non-contiguous
  const Tensor t = tensor({5, 0, -100, 2});
  const auto tv = t.to_vector();
  std::vector<double> per;
  double sum = 0;
  for (int64_t n = 0; n < 4; ++n) {
    const auto c = static_cast<int64_t>(tv[static_cast<size_t>(n)]);
    per.push_back(c == -100 ? 0.0 : -lp.at({n, c}));
    sum += per.back();
  }
  EXPECT_TRUE(testing::vectors_near(nll_loss(lp, t, Reduction::None).to_vector(), per, 0, 0));
  EXPECT_DOUBLE_EQ(nll_loss(lp, t, Reduction::Sum).item(), sum);
  EXPECT_DOUBLE_EQ(nll_loss(lp, t).item(), sum / 3);  // 3 targets are not ignored
  const Tensor lp3 = random_input({2, 3, 2}, 2, -3, 0, false);  // (N, C, d)
  const Tensor t3 = tensor({{2, 0}, {1, 1}});
  EXPECT_DOUBLE_EQ(nll_loss(lp3, t3, Reduction::Sum).item(),
                   -(lp3.at({0, 2, 0}) + lp3.at({0, 0, 1}) + lp3.at({1, 1, 0}) + lp3.at({1, 1, 1})));
}

TEST(NllLoss, Gradcheck) {
  const Tensor t = tensor({1, 3, -100, 1, 0});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    EXPECT_TRUE(gradcheck("nll_loss",
                          [&](const std::vector<Tensor>& in) { return nll_loss(in[0].t(), t, r); },
                          {random_input({4, 5}, 3)}));
  }
}

TEST(NllLoss, MatchesPyTorch) {
  const auto fx = testing::load_fixture("nn_class_losses");
  for (const auto& [name, r] : {std::pair{"mean", Reduction::Mean}, std::pair{"sum", Reduction::Sum},
                                std::pair{"none", Reduction::None}}) {
    const std::string key = std::string("nll_") + name;
    const Tensor lp = testing::leaf(fx["lp"], kFloat32);
    const Tensor loss = nll_loss(lp, fx["t"], r);
    EXPECT_TRUE(testing::all_close(loss, fx[key], 1e-5, 1e-6)) << key;
    loss.backward(fx[key + "_dy"]);
    EXPECT_TRUE(testing::all_close(lp.grad(), fx[key + "_dlp"], 1e-6, 1e-7)) << key;
  }
}

TEST(NllLoss, TargetOutOfRangeThrows) {
  EXPECT_THAT([] { nll_loss(zeros({2, 3}), tensor({0, 3})); },
              ::testing::ThrowsMessage<ShapeError>(
                  HasSubstr("nll_loss: target 3 is out of bounds for 3 classes")));
}

}  // namespace
}  // namespace nabla
