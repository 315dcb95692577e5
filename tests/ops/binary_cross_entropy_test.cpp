// binary_cross_entropy and binary_cross_entropy_with_logits: naive references (including the
// -100 log clamp and saturated logits), gradcheck for input and target, PyTorch fixtures, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
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

TEST(BinaryCrossEntropy, MatchesReferenceWithClampedLogs) {
  const Tensor p = tensor({{0.0, 0.3, 1.0}, {0.9, 1e-50, 0.5}}, kFloat64);
  const Tensor y = tensor({{1.0, 0.2, 0.0}, {0.9, 0.5, 0.5}}, kFloat64);
  const auto pv = p.to_vector(), yv = y.to_vector();
  std::vector<double> ref;
  for (size_t i = 0; i < pv.size(); ++i) {
    const double lp = std::max(std::log(pv[i]), -100.0), l1p = std::max(std::log(1 - pv[i]), -100.0);
    ref.push_back(-(yv[i] * lp + (1 - yv[i]) * l1p));
  }
  EXPECT_TRUE(testing::vectors_near(binary_cross_entropy(p, y, Reduction::None).to_vector(), ref,
                                    1e-14, 1e-14));
  EXPECT_TRUE(testing::vectors_near(binary_cross_entropy(p.t(), y.t(), Reduction::None).to_vector(),
                                    binary_cross_entropy(p, y, Reduction::None).t().contiguous().to_vector(),
                                    0, 0));
}

TEST(BinaryCrossEntropy, Gradcheck) {
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    EXPECT_TRUE(gradcheck(
        "binary_cross_entropy",
        [r](const std::vector<Tensor>& in) { return binary_cross_entropy(in[0].t(), in[1], r); },
        {random_input({4, 3}, 1, 0.05, 0.95), random_input({3, 4}, 2, 0.0, 1.0)}));
  }
}

TEST(BinaryCrossEntropy, MatchesPyTorch) {
  const auto fx = testing::load_fixture("nn_pointwise_losses");
  for (const auto& [name, r] : {std::pair{"mean", Reduction::Mean}, std::pair{"sum", Reduction::Sum},
                                std::pair{"none", Reduction::None}}) {
    const std::string key = std::string("bce_") + name;
    const Tensor p = testing::leaf(fx["p"], kFloat32);
    const Tensor loss = binary_cross_entropy(p, fx["y"], r);
    EXPECT_TRUE(testing::all_close(loss, fx[key], 1e-5, 1e-5)) << key;
    loss.backward(fx[key + "_dy"]);
    // d/dp at p = 0 and 1 divides by max(p(1-p), 1e-12): large values, relative tolerance
    EXPECT_TRUE(testing::all_close(p.grad(), fx[key + "_dp"], 1e-5, 1e-5)) << key;
  }
}

TEST(BinaryCrossEntropy, RejectsInputOutsideUnitInterval) {
  EXPECT_THAT([] { binary_cross_entropy(tensor({0.5, 1.5}), tensor({0.0, 1.0})); },
              ::testing::ThrowsMessage<Error>(
                  HasSubstr("binary_cross_entropy: all elements of input should be between 0 and 1, found 1.5")));
  EXPECT_THROW(binary_cross_entropy(tensor({0.5}), tensor({0.0, 1.0})), ShapeError);
}

TEST(BinaryCrossEntropyWithLogits, MatchesReferenceAndIsStable) {
  const Tensor x = tensor({-200.0, -3.0, 0.0, 2.5, 150.0}, kFloat64);
  const Tensor t = tensor({0.0, 0.3, 1.0, 0.5, 1.0}, kFloat64);
  const auto xv = x.to_vector(), tv = t.to_vector();
  std::vector<double> ref;
  for (size_t i = 0; i < xv.size(); ++i) {
    // -(t log s(x) + (1-t) log(1-s(x))) with log s(x) = -log1p(exp(-x)) written stably
    const double log_s = xv[i] > 0 ? -std::log1p(std::exp(-xv[i])) : xv[i] - std::log1p(std::exp(xv[i]));
    const double log_1ms = log_s - xv[i];
    ref.push_back(-(tv[i] * log_s + (1 - tv[i]) * log_1ms));
  }
  EXPECT_TRUE(testing::vectors_near(
      binary_cross_entropy_with_logits(x, t, Reduction::None).to_vector(), ref, 1e-12, 1e-12));
  const Tensor l32 = binary_cross_entropy_with_logits(x.to(kFloat32), t.to(kFloat32), Reduction::Sum);
  EXPECT_TRUE(std::isfinite(l32.item()));
}

TEST(BinaryCrossEntropyWithLogits, Gradcheck) {
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    EXPECT_TRUE(gradcheck("binary_cross_entropy_with_logits",
                          [r](const std::vector<Tensor>& in) {
                            return binary_cross_entropy_with_logits(in[0], in[1].t(), r);
                          },
                          {random_input({2, 5}, 3, -4, 4), random_input({5, 2}, 4, 0, 1)}));
  }
}

TEST(BinaryCrossEntropyWithLogits, MatchesPyTorch) {
  const auto fx = testing::load_fixture("nn_pointwise_losses");
  for (const auto& [name, r] : {std::pair{"mean", Reduction::Mean}, std::pair{"sum", Reduction::Sum},
                                std::pair{"none", Reduction::None}}) {
    const std::string key = std::string("bcel_") + name;
    const Tensor z = testing::leaf(fx["z"], kFloat32), q = testing::leaf(fx["q"], kFloat32);
    const Tensor loss = binary_cross_entropy_with_logits(z, q, r);
    EXPECT_TRUE(testing::all_close(loss, fx[key], 1e-5, 1e-6)) << key;
    loss.backward(fx[key + "_dy"]);
    EXPECT_TRUE(testing::all_close(z.grad(), fx[key + "_dz"], 1e-5, 1e-6)) << key;
    EXPECT_TRUE(testing::all_close(q.grad(), fx[key + "_dq"], 1e-5, 1e-6)) << key;
  }
}

}  // namespace
}  // namespace nabla
