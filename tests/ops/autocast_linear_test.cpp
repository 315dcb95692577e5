// linear() under bf16 autocast: forward and gradients against a double-precision reference on
// bf16-rounded operands, against PyTorch's rounding (fixture), and the guard's scope.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "nabla/autograd/autocast.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/core/bf16.h"
#include "nabla/core/rng.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/matmul.h"
#include "tests/testing/fixture.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

double bf(double v) { return static_cast<float>(BFloat16(static_cast<float>(v))); }

// c (M, N) = sum_k a(m, k) b(k, n), operands given by element accessors, in double.
template <typename A, typename B>
std::vector<double> naive(int64_t M, int64_t N, int64_t K, A a, B b) {
  std::vector<double> c(static_cast<size_t>(M * N), 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) c[m * N + n] += a(m, k) * b(k, n);
  return c;
}

::testing::AssertionResult near(const std::vector<double>& got, const std::vector<double>& want,
                                double tol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) > tol * (1.0 + std::abs(want[i]))) {
      return ::testing::AssertionFailure() << "element " << i << ": " << got[i] << " vs " << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(AutocastLinear, ForwardAndGradientsMatchBf16RoundedReference) {
  manual_seed(3);
  const int64_t R = 7, I = 37, O = 19;              // rows, in, out
  Tensor x = randn({I, R}).transpose(0, 1).requires_grad_();  // a transposed view
  Tensor w = randn({O, I}).requires_grad_();
  Tensor b = randn({O}).requires_grad_();
  const Tensor dy = randn({R, O});
  Tensor y;
  {
    const AutocastGuard autocast;
    y = linear(x, w, b);
  }
  EXPECT_EQ(y.dtype(), kFloat32);
  y.backward(dy);
  const std::vector<double> xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector(),
                            dyv = dy.to_vector();
  std::vector<double> want = naive(R, O, I, [&](int64_t r, int64_t i) { return bf(xv[r * I + i]); },
                                   [&](int64_t i, int64_t o) { return bf(wv[o * I + i]); });
  for (int64_t r = 0; r < R; ++r)
    for (int64_t o = 0; o < O; ++o) want[r * O + o] += bv[o];
  EXPECT_TRUE(near(y.to_vector(), want, 1e-5));
  // dx = bf(dy) bf(W); dW = bf(dy)^T bf(x); db = sum of the f32 dy.
  EXPECT_TRUE(near(x.grad().to_vector(),
                   naive(R, I, O, [&](int64_t r, int64_t o) { return bf(dyv[r * O + o]); },
                         [&](int64_t o, int64_t i) { return bf(wv[o * I + i]); }),
                   1e-5));
  EXPECT_TRUE(near(w.grad().to_vector(),
                   naive(O, I, R, [&](int64_t o, int64_t r) { return bf(dyv[r * O + o]); },
                         [&](int64_t r, int64_t i) { return bf(xv[r * I + i]); }),
                   1e-5));
  std::vector<double> db(static_cast<size_t>(O), 0.0);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t o = 0; o < O; ++o) db[o] += dyv[r * O + o];
  EXPECT_TRUE(near(b.grad().to_vector(), db, 1e-6));
  EXPECT_EQ(w.grad().dtype(), kFloat32);
  EXPECT_EQ(x.grad().shape(), x.shape());
}

TEST(AutocastLinear, MatchesPyTorchFixture) {
  const testing::Fixture f = testing::load_fixture("autocast_linear");
  Tensor x = f["x"].clone().requires_grad_();
  Tensor w = f["w"].clone().requires_grad_();
  Tensor b = f["bias"].clone().requires_grad_();
  Tensor y;
  {
    const AutocastGuard autocast(kBFloat16);
    y = linear(x, w, b);
  }
  EXPECT_TRUE(testing::all_close(y, f["y"], 1e-5, 1e-5));
  y.backward(f["dy"]);
  EXPECT_TRUE(testing::all_close(x.grad(), f["dx"], 1e-5, 1e-5));
  EXPECT_TRUE(testing::all_close(w.grad(), f["dw"], 1e-5, 1e-5));
  EXPECT_TRUE(testing::all_close(b.grad(), f["db"], 1e-5, 1e-6));
}

TEST(AutocastLinear, NoBiasOneDimAndEmptyInputs) {
  manual_seed(4);
  const Tensor w = randn({3, 4}), x = randn({4});
  const AutocastGuard autocast;
  const Tensor y = linear(x, w, Tensor());
  ASSERT_EQ(y.shape(), Shape({3}));
  const std::vector<double> xv = x.to_vector(), wv = w.to_vector();
  EXPECT_TRUE(near(y.to_vector(),
                   naive(1, 3, 4, [&](int64_t, int64_t i) { return bf(xv[i]); },
                         [&](int64_t i, int64_t o) { return bf(wv[o * 4 + i]); }),
                   1e-6));
  Tensor e = zeros({0, 4}).requires_grad_();
  Tensor we = w.clone().requires_grad_();
  const Tensor ye = linear(e, we, Tensor());
  EXPECT_EQ(ye.shape(), Shape({0, 3}));
  ye.sum().backward();
  for (double v : we.grad().to_vector()) EXPECT_EQ(v, 0.0);
  // No input features: the output is the bias alone.
  const Tensor b = randn({3});
  EXPECT_EQ(linear(zeros({2, 0}), zeros({3, 0}), b).to_vector(),
            b.unsqueeze(0).expand({2, 3}).contiguous().to_vector());
}

TEST(AutocastLinear, OnlyF32InputsAndOnlyInsideTheGuard) {
  manual_seed(5);
  const Tensor x = randn({5, 33}), w = randn({6, 33});
  const Tensor plain = linear(x, w, Tensor());
  {
    const AutocastGuard autocast;
    EXPECT_EQ(autograd::autocast_dtype(), kBFloat16);
    {
      const AutocastGuard off(kFloat32);
      EXPECT_EQ(linear(x, w, Tensor()).to_vector(), plain.to_vector());  // bitwise: the f32 path
    }
    EXPECT_NE(linear(x, w, Tensor()).to_vector(), plain.to_vector());  // rounded operands
    const Tensor x64 = x.to(kFloat64), w64 = w.to(kFloat64);
    EXPECT_EQ(linear(x64, w64, Tensor()).dtype(), kFloat64);  // f64 is never downcast
  }
  EXPECT_EQ(autograd::autocast_dtype(), kFloat32);
  EXPECT_EQ(linear(x, w, Tensor()).to_vector(), plain.to_vector());
  EXPECT_THAT([] { autograd::set_autocast_dtype(kFloat64); },
              ThrowsMessage<DTypeError>(HasSubstr("autocast: supported dtypes are float32")));
}

TEST(AutocastLinear, RunToRunBitwiseIdentical) {
  manual_seed(6);
  const Tensor x = randn({64, 96}), w = randn({80, 96}), b = randn({80});
  const AutocastGuard autocast;
  EXPECT_EQ(linear(x, w, b).to_vector(), linear(x, w, b).to_vector());
}

}  // namespace
}  // namespace nabla
