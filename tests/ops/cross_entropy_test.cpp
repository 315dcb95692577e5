// cross_entropy: naive log-softmax + NLL reference with ignore_index and label smoothing for
// (N, C), (N, C, d) and (C) logits; gradcheck; PyTorch fixtures; bf16; target errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/ops.h"
#include "tests/ops/nn_test_helpers.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using testing::gradcheck;
using testing::random_input;

// Per-position losses for logits (N, C, D) as a flat row-major vector; ignored positions are
// flagged in `kept`.
std::vector<double> cross_entropy_ref(const Tensor& logits, const std::vector<double>& target,
                                      int64_t ignore_index, double ls, std::vector<bool>& kept) {
  const int64_t N = logits.dim() == 1 ? 1 : logits.size(0);
  const int64_t C = logits.dim() == 1 ? logits.size(0) : logits.size(1);
  const int64_t D = logits.numel() / (N * C);
  const auto x = logits.to_vector();
  std::vector<double> out;
  kept.clear();
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t d = 0; d < D; ++d) {
      auto at = [&](int64_t c) { return x[static_cast<size_t>((n * C + c) * D + d)]; };
      const auto t = static_cast<int64_t>(target[static_cast<size_t>(n * D + d)]);
      kept.push_back(t != ignore_index);
      if (t == ignore_index) {
        out.push_back(0);
        continue;
      }
      double mx = at(0), s = 0, smooth = 0;
      for (int64_t c = 1; c < C; ++c) mx = std::max(mx, at(c));
      for (int64_t c = 0; c < C; ++c) s += std::exp(at(c) - mx);
      const double lse = mx + std::log(s);
      for (int64_t c = 0; c < C; ++c) smooth -= at(c) - lse;
      out.push_back((1 - ls) * (lse - at(t)) + ls / static_cast<double>(C) * smooth);
    }
  }
  return out;
}

void expect_matches_reference(const Tensor& logits, const Tensor& target, int64_t ignore,
                              double ls) {
  std::vector<bool> kept;
  const auto per = cross_entropy_ref(logits, target.to_vector(), ignore, ls, kept);
  double sum = 0, count = 0;
  for (size_t i = 0; i < per.size(); ++i) {
    sum += per[i];
    count += kept[i];
  }
  const Tensor none = cross_entropy(logits, target, Reduction::None, ignore, ls);
  EXPECT_EQ(none.shape(), target.shape());
  EXPECT_TRUE(testing::vectors_near(none.to_vector(), per, 1e-12, 1e-12));
  EXPECT_NEAR(cross_entropy(logits, target, Reduction::Sum, ignore, ls).item(), sum, 1e-12);
  EXPECT_NEAR(cross_entropy(logits, target, Reduction::Mean, ignore, ls).item(), sum / count, 1e-12);
}

TEST(CrossEntropy, MatchesReference2d) {
  const Tensor x = random_input({7, 11}, 1, -4, 4, false);
  const Tensor t = tensor({3, -100, 10, 0, 5, -100, 3});
  expect_matches_reference(x, t, -100, 0.0);
  expect_matches_reference(x, t, -100, 0.15);
  expect_matches_reference(x, tensor({3, 2, 10, 0, 5, 7, 3}), 7, 0.3);  // ignores class 7
  expect_matches_reference(random_input({11, 7}, 2, -4, 4, false).t(), t, -100, 0.1);  // non-contiguous
}

TEST(CrossEntropy, MatchesReferenceSpatialAndUnbatched) {
  const Tensor x = random_input({2, 5, 3, 2}, 3, -3, 3, false);  // (N, C, d1, d2)
  const Tensor t = tensor({{{0, 4}, {-1, 2}, {1, 1}}, {{3, 3}, {0, -1}, {4, 2}}});
  expect_matches_reference(x, t, -1, 0.0);
  expect_matches_reference(x, t, -1, 0.2);
  const Tensor x1 = random_input({6}, 4, -2, 2, false);  // (C) with a 0-d target
  expect_matches_reference(x1, tensor(4), -100, 0.1);
  EXPECT_EQ(cross_entropy(x1, tensor(4)).dim(), 0);
}

TEST(CrossEntropy, Gradcheck) {
  const Tensor t = tensor({2, -100, 0, 4});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    for (double ls : {0.0, 0.25}) {
      EXPECT_TRUE(gradcheck(
          "cross_entropy",
          [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, r, -100, ls); },
          {random_input({4, 5}, 5, -2, 2)}));
    }
  }
  const Tensor t3 = tensor({{1, 0, 2}, {2, 2, 1}});
  EXPECT_TRUE(gradcheck(
      "cross_entropy",
      [&](const std::vector<Tensor>& in) {
        return cross_entropy(in[0].transpose(0, 2), t3, Reduction::Mean, 0, 0.1);
      },
      {random_input({3, 3, 2}, 6, -2, 2)}));  // (2, 3, 3) non-contiguous, class 0 ignored
}

TEST(CrossEntropy, MatchesPyTorchWithIgnoreIndexAndSmoothing) {
  const auto fx = testing::load_fixture("nn_class_losses");
  for (const auto& [name, r] : {std::pair{"mean", Reduction::Mean}, std::pair{"sum", Reduction::Sum},
                                std::pair{"none", Reduction::None}}) {
    for (int ls10 : {0, 1}) {
      const std::string key = std::string("ce_") + name + "_ls" + std::to_string(ls10);
      const Tensor x = testing::leaf(fx["x"], kFloat32);
      const Tensor loss = cross_entropy(x, fx["t"], r, -100, ls10 / 10.0);
      EXPECT_TRUE(testing::all_close(loss, fx[key], 1e-5, 1e-6)) << key;
      loss.backward(fx[key + "_dy"]);
      EXPECT_TRUE(testing::all_close(x.grad(), fx[key + "_dx"], 1e-5, 1e-6)) << key;
    }
  }
  const Tensor x3 = testing::leaf(fx["x3"], kFloat32);
  const Tensor l3 = cross_entropy(x3, fx["t3"], Reduction::Mean, -1, 0.2);
  EXPECT_TRUE(testing::all_close(l3, fx["ce3"], 1e-5, 1e-6));
  l3.backward();
  EXPECT_TRUE(testing::all_close(x3.grad(), fx["ce3_dx"], 1e-5, 1e-6));
}

// f32 rows of a language model's vocabulary take the vectorised exp: losses and gradients
// against the f64 path, including a row far from zero (the max is subtracted first), label
// smoothing and an ignored row.
TEST(CrossEntropy, F32VocabularyRowsMatchF64) {
  constexpr int64_t V = 50257;
  Tensor x64 = random_input({4, V}, 11, -8, 8, false);
  {
    NoGradGuard g;
    x64.narrow(0, 2, 1).add_(60.0);
  }
  const Tensor t = tensor({7, V - 1, 123, -100});
  const Tensor xf = testing::leaf(x64, kFloat32), xd = testing::leaf(x64, kFloat64);
  const Tensor lf = cross_entropy(xf, t, Reduction::None, -100, 0.1);
  const Tensor ld = cross_entropy(xd, t, Reduction::None, -100, 0.1);
  EXPECT_TRUE(testing::all_close(lf.to(kFloat64), ld, 1e-5, 1e-5));
  cross_entropy(xf, t, Reduction::Mean, -100, 0.1).backward();
  cross_entropy(xd, t, Reduction::Mean, -100, 0.1).backward();
  // f32 sums 50257 terms per row: in sequence (unvectorised builds) that costs up to ~1e-4
  // relative in the log-sum-exp, which every probability of the row carries.
  EXPECT_TRUE(testing::all_close(xf.grad().to(kFloat64), xd.grad(), 1e-4, 1e-9));
}

// A NaN logit makes its row's loss and gradient NaN (the trainer stops on a NaN loss) and
// leaves the other rows alone.
TEST(CrossEntropy, NanLogitGivesNanInItsRowOnly) {
  Tensor x = random_input({2, 40}, 12, -3, 3, false).to(kFloat32);
  {
    NoGradGuard g;
    x.narrow(0, 0, 1).narrow(1, 5, 1).fill_(std::nan(""));
  }
  const Tensor xl = testing::leaf(x, kFloat32);
  const Tensor l = cross_entropy(xl, tensor({1, 2}), Reduction::None);
  EXPECT_TRUE(std::isnan(l.to_vector()[0]));
  EXPECT_TRUE(std::isfinite(l.to_vector()[1]));
  l.sum().backward();
  const auto g = xl.grad().to_vector();
  EXPECT_TRUE(std::isnan(g[0]));
  for (size_t c = 40; c < 80; ++c) EXPECT_TRUE(std::isfinite(g[c])) << c;
}

TEST(CrossEntropy, BFloat16ComputesInF32) {
  const Tensor x = random_input({16, 50}, 7, -5, 5, false).to(kBFloat16);
  const Tensor t = randint(0, 50, {16});
  const Tensor l = cross_entropy(x, t);
  EXPECT_EQ(l.dtype(), kBFloat16);
  EXPECT_NEAR(l.item(), cross_entropy(x.to(kFloat64), t).item(), 1e-2 * cross_entropy(x.to(kFloat64), t).item());
}

TEST(CrossEntropy, BFloat16BackwardMatchesF32) {
  const Tensor x = random_input({8, 33}, 8, -4, 4, false).to(kBFloat16);
  const Tensor t = tensor({0, 32, -100, 5, 5, 17, 2, 9});
  const Tensor xb = testing::leaf(x, kBFloat16), xf = testing::leaf(x, kFloat32);
  cross_entropy(xb, t, Reduction::Mean, -100, 0.1).backward();
  cross_entropy(xf, t, Reduction::Mean, -100, 0.1).backward();
  EXPECT_EQ(xb.grad().dtype(), kBFloat16);
  // the same f32 arithmetic, then one bf16 rounding of each gradient
  EXPECT_TRUE(testing::all_close(xb.grad(), xf.grad(), 8e-3, 1e-5));
}

TEST(CrossEntropy, TargetErrors) {
  const Tensor x = zeros({3, 5});
  EXPECT_THAT([&] { cross_entropy(x, tensor({0, 5, 1})); },
              ::testing::ThrowsMessage<ShapeError>(
                  HasSubstr("cross_entropy: target 5 is out of bounds for 5 classes")));
  EXPECT_THAT([&] { cross_entropy(x, tensor({0, 1})); },
              ::testing::ThrowsMessage<ShapeError>(HasSubstr("expected target of shape [3]")));
  EXPECT_THAT([&] { cross_entropy(x, zeros({3, 5})); },
              ::testing::ThrowsMessage<DTypeError>(HasSubstr("class indices (int64)")));
  EXPECT_THROW(cross_entropy(x, tensor({0, 1, 2}), Reduction::Mean, -100, 1.5), Error);
}

}  // namespace
}  // namespace nabla
