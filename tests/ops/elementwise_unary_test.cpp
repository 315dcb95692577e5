// Unary element-wise ops: forward against naive double loops (odd sizes, transposed views,
// f32/bf16/integer inputs), PyTorch fixtures for values and gradients, in-place forms and
// gradcheck for every differentiable one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/elementwise.h"
#include "tests/ops/elementwise_test_util.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using testing::all_close;
using testing::from_values;
using testing::gradcheck;
using testing::random_input;
using testing::reference;
using testing::transpose2d;
using testing::transposed_copy;
using testing::uniform;
using Inputs = std::vector<Tensor>;
using UnaryFn = std::function<Tensor(const Tensor&)>;

double sigmoid_ref(double x) { return 1 / (1 + std::exp(-x)); }
double gelu_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh_ref(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

struct Case {
  const char* name;
  UnaryFn op;
  std::function<double(double)> ref;
  bool positive;  // needs x > 0
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"neg", [](const Tensor& x) { return -x; }, [](double x) { return -x; }, false},
      {"abs", [](const Tensor& x) { return x.abs(); }, [](double x) { return std::abs(x); }, false},
      {"exp", [](const Tensor& x) { return x.exp(); }, [](double x) { return std::exp(x); }, false},
      {"log", [](const Tensor& x) { return x.log(); }, [](double x) { return std::log(x); }, true},
      {"sqrt", [](const Tensor& x) { return x.sqrt(); }, [](double x) { return std::sqrt(x); }, true},
      {"rsqrt", [](const Tensor& x) { return x.rsqrt(); }, [](double x) { return 1 / std::sqrt(x); }, true},
      {"tanh", [](const Tensor& x) { return x.tanh(); }, [](double x) { return std::tanh(x); }, false},
      {"sigmoid", [](const Tensor& x) { return x.sigmoid(); }, sigmoid_ref, false},
      {"relu", [](const Tensor& x) { return x.relu(); }, [](double x) { return x < 0 ? 0 : x; }, false},
      {"gelu", [](const Tensor& x) { return x.gelu(); }, gelu_ref, false},
      {"gelu_tanh", [](const Tensor& x) { return x.gelu("tanh"); }, gelu_tanh_ref, false},
      {"silu", [](const Tensor& x) { return x.silu(); }, [](double x) { return x * sigmoid_ref(x); }, false},
      {"clamp", [](const Tensor& x) { return x.clamp(-0.5, 0.75); },
       [](double x) { return std::min(std::max(x, -0.5), 0.75); }, false},
  };
  return all;
}

TEST(Unary, MatchesReferenceOnOddAndTransposedInputs) {
  for (const Case& c : cases()) {
    const double lo = c.positive ? 0.1 : -3.0;
    const Tensor x = uniform({5, 7}, 1, lo, 3.0);
    const Tensor xt = transposed_copy(uniform({5, 7}, 2, lo, 3.0));
    EXPECT_TRUE(all_close(c.op(x), reference(x, c.ref), 1e-14, 1e-15)) << c.name;
    EXPECT_TRUE(all_close(c.op(xt), reference(xt, c.ref), 1e-14, 1e-15)) << c.name;
    if (std::string(c.name) != "gelu" && std::string(c.name) != "sqrt") continue;
    const Tensor big = uniform({257, 131}, 3, lo, 3.0);  // parallel path
    EXPECT_TRUE(all_close(c.op(big), reference(big, c.ref), 1e-14, 1e-15)) << c.name;
  }
}

TEST(Unary, F32AndBf16ComputeInF32) {
  for (const Case& c : cases()) {
    const double lo = c.positive ? 0.1 : -3.0;
    const Tensor x32 = uniform({3, 11}, 4, lo, 3.0, kFloat32);
    const Tensor y32 = c.op(x32);
    EXPECT_EQ(y32.dtype(), kFloat32) << c.name;
    EXPECT_TRUE(all_close(y32, reference(x32, c.ref), 2e-6, 1e-6)) << c.name;
    const Tensor x16 = uniform({3, 11}, 5, lo, 3.0, kBFloat16);
    const Tensor y16 = c.op(x16);
    EXPECT_EQ(y16.dtype(), kBFloat16) << c.name;
    // One bf16 rounding of the f32 result: relative 2^-8.
    EXPECT_TRUE(all_close(y16, reference(x16, c.ref), 4e-3, 1e-6)) << c.name;
  }
}

TEST(Unary, IntegerInputsFollowPyTorchDtypes) {
  const Tensor i = from_values({4}, {-2, 0, 1, 3}, kInt64);
  EXPECT_EQ(i.exp().dtype(), kFloat32);
  EXPECT_TRUE(all_close(i.exp(), reference(i, [](double x) { return std::exp(x); }), 1e-6, 0));
  EXPECT_EQ(i.sigmoid().dtype(), kFloat32);
  EXPECT_EQ(i.relu().dtype(), kInt64);
  EXPECT_EQ(i.relu().to_vector(), (std::vector<double>{0, 0, 1, 3}));
  EXPECT_EQ(i.abs().to_vector(), (std::vector<double>{2, 0, 1, 3}));
  EXPECT_EQ((-i).to_vector(), (std::vector<double>{2, 0, -1, -3}));
  EXPECT_EQ(i.clamp(-1, 2).dtype(), kInt64);
  EXPECT_EQ(i.clamp(-1, 2).to_vector(), (std::vector<double>{-1, 0, 1, 2}));
  EXPECT_EQ(i.clamp(0.5).dtype(), kFloat32);
  EXPECT_EQ(i.clamp(0.5).to_vector(), (std::vector<double>{0.5, 0.5, 1, 3}));
  const Tensor b = from_values({2}, {1, 0}, kBool);
  EXPECT_THAT([&] { (void)(-b); }, ThrowsMessage<DTypeError>(HasSubstr("logical_not")));
  EXPECT_EQ(b.sqrt().dtype(), kFloat32);
}

TEST(Clamp, BoundsNaNAndErrors) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = from_values({5}, {-2, -0.5, 0.2, 0.75, nan});
  const Tensor y = clamp(x, -0.5, 0.75);
  EXPECT_EQ(y.at({0}), -0.5);
  EXPECT_EQ(y.at({3}), 0.75);
  EXPECT_TRUE(std::isnan(y.at({4})));
  EXPECT_EQ(clamp(x, std::nullopt, 0.0).at({2}), 0.0);
  EXPECT_EQ(clamp(x, 1.0, 0.0).at({0}), 0.0);  // min > max gives max, as in PyTorch
  EXPECT_THAT([&] { (void)clamp(x, std::nullopt, std::nullopt); },
              ThrowsMessage<Error>(HasSubstr("at least one of 'min' or 'max'")));
  EXPECT_THAT([&] { (void)x.gelu("fast"); }, ThrowsMessage<Error>(HasSubstr("approximate")));
}

TEST(Unary, MatchesPyTorchFixtures) {
  // f64: the same formulas as PyTorch up to rounding; f32: a few ulps of transcendental
  // functions that differ between libm and PyTorch's SLEEF.
  for (const auto& [tag, tol] : std::map<std::string, double>{{"f64", 1e-12}, {"f32", 2e-6}}) {
    const testing::Fixture fx = testing::load_fixture("elementwise_unary_" + tag);
    for (const Case& c : cases()) {
      Tensor x = fx[c.positive ? "p" : "x"].detach();
      x.requires_grad_();
      const Tensor y = c.op(x);
      y.backward(fx["dy"]);
      EXPECT_TRUE(all_close(y, fx[c.name], tol, tol)) << tag << " " << c.name;
      EXPECT_TRUE(all_close(x.grad(), fx[std::string(c.name) + "_grad"], tol, tol)) << tag << " " << c.name;
    }
    Tensor p = fx["p"].detach().requires_grad_();
    const Tensor y = p.pow(1.7);
    y.backward(fx["dy"]);
    EXPECT_TRUE(all_close(y, fx["pow_1_7"], tol, tol)) << tag;
    EXPECT_TRUE(all_close(p.grad(), fx["pow_1_7_grad"], tol, tol)) << tag;
  }
}

TEST(UnaryGrad, EveryOpOnContiguousAndTransposedInputs) {
  // Inputs keep clear of the kinks of abs, relu and clamp (|x - kink| > eps).
  const Inputs in = {from_values({2, 3}, {-0.9, -0.3, 0.2, 0.45, 0.8, 1.3}).requires_grad_(),
                     random_input({3, 2}, 7, 0.2, 2.0)};
  EXPECT_TRUE(gradcheck("neg", [](const Inputs& x) { return -transpose2d(x[1]); }, in));
  EXPECT_TRUE(gradcheck("abs", [](const Inputs& x) { return x[0].abs(); }, in));
  EXPECT_TRUE(gradcheck("exp", [](const Inputs& x) { return transpose2d(x[1]).exp(); }, in));
  EXPECT_TRUE(gradcheck("log", [](const Inputs& x) { return transpose2d(x[1]).log(); }, in));
  EXPECT_TRUE(gradcheck("sqrt", [](const Inputs& x) { return transpose2d(x[1]).sqrt(); }, in));
  EXPECT_TRUE(gradcheck("rsqrt", [](const Inputs& x) { return x[1].rsqrt(); }, in));
  EXPECT_TRUE(gradcheck("tanh", [](const Inputs& x) { return transpose2d(x[0]).tanh(); }, in));
  EXPECT_TRUE(gradcheck("sigmoid", [](const Inputs& x) { return transpose2d(x[0]).sigmoid(); }, in));
  EXPECT_TRUE(gradcheck("relu", [](const Inputs& x) { return transpose2d(x[0]).relu(); }, in));
  EXPECT_TRUE(gradcheck("gelu", [](const Inputs& x) { return transpose2d(x[0]).gelu(); }, in));
  EXPECT_TRUE(gradcheck("gelu", [](const Inputs& x) { return x[0].gelu("tanh"); }, in));
  EXPECT_TRUE(gradcheck("silu", [](const Inputs& x) { return transpose2d(x[0]).silu(); }, in));
  EXPECT_TRUE(gradcheck("clamp", [](const Inputs& x) { return transpose2d(x[0]).clamp(-0.5, 0.6); }, in));
  EXPECT_TRUE(gradcheck("clamp", [](const Inputs& x) { return x[0].clamp(std::nullopt, 0.3); }, in));
}

TEST(UnaryGrad, KinksFollowPyTorch) {
  // relu'(0) = 0, abs'(0) = 0, clamp passes the gradient at its bounds (min <= x <= max).
  Tensor x = from_values({4}, {0.0, -0.5, 0.75, 1.0}).requires_grad_();
  x.relu().backward(from_values({4}, {1, 1, 1, 1}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 0, 1, 1}));
  x.set_grad(Tensor());
  x.abs().backward(from_values({4}, {1, 1, 1, 1}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, -1, 1, 1}));
  x.set_grad(Tensor());
  x.clamp(-0.5, 0.75).backward(from_values({4}, {1, 1, 1, 1}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{1, 1, 1, 0}));
}

TEST(UnaryInPlace, MatchesOutOfPlaceAndTracksNonLeafHistory) {
  const Tensor x = uniform({4, 5}, 8, -2, 2);
  Tensor a = x.detach() * 1.0;
  Tensor b = x.detach() * 1.0;
  Tensor c = x.detach() * 1.0;
  Tensor d = x.detach() * 1.0;
  EXPECT_TRUE(all_close(a.relu_(), x.relu(), 0, 0));
  EXPECT_TRUE(all_close(b.sigmoid_(), x.sigmoid(), 0, 0));
  EXPECT_TRUE(all_close(c.exp_(), x.exp(), 0, 0));
  EXPECT_TRUE(all_close(d.clamp_(-0.5, 0.5), x.clamp(-0.5, 0.5), 0, 0));
  const Inputs in = {from_values({2, 3}, {-0.9, -0.3, 0.2, 0.45, 0.8, 1.3}).requires_grad_()};
  EXPECT_TRUE(gradcheck("relu", [](const Inputs& v) { return (v[0] * 2).relu_(); }, in));
  EXPECT_TRUE(gradcheck("sigmoid", [](const Inputs& v) { return (v[0] * 2).sigmoid_(); }, in));
  EXPECT_TRUE(gradcheck("exp", [](const Inputs& v) { return (v[0] + 0).exp_(); }, in));
  EXPECT_TRUE(gradcheck("clamp", [](const Inputs& v) { return (v[0] * 1).clamp_(-0.5, 0.5); }, in));
  Tensor leaf = random_input({3}, 9);
  EXPECT_THAT([&] { leaf.relu_(); }, ThrowsMessage<Error>(HasSubstr("leaf tensor")));
  Tensor i = from_values({2}, {1, 2}, kInt64);
  EXPECT_THAT([&] { i.exp_(); }, ThrowsMessage<DTypeError>(HasSubstr("can't be cast")));
  EXPECT_THAT([&] { i.clamp_(0.5); }, ThrowsMessage<DTypeError>(HasSubstr("can't be cast")));
}

}  // namespace
}  // namespace nabla
