// Comparisons, logical_not, where, masked_fill, allclose and equal, plus the PyTorch
// fixtures for the broadcasting binary ops (values and gradients with type promotion).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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

TEST(Compare, AllSixMatchReferenceWithBroadcastingAndTransposedInputs) {
  // Rounded values so that ties occur.
  const Tensor a = from_values({5, 3}, {0, 1, 2, 1, 1, 0, 2, 2, 1, 0, 0, 2, 1, 2, 0});
  const Tensor at = transposed_copy(a);
  const Tensor b = from_values({3}, {1, 1, 0}, kInt64);  // promoted to f64
  const auto check = [&](const Tensor& y, const Tensor& x, auto f) {
    EXPECT_EQ(y.dtype(), kBool);
    EXPECT_TRUE(all_close(y, reference(x, b, [&](double u, double v) { return f(u, v) ? 1.0 : 0.0; }), 0, 0));
  };
  for (const Tensor& x : {a, at}) {
    check(eq(x, b), x, [](double u, double v) { return u == v; });
    check(x.ne(b), x, [](double u, double v) { return u != v; });
    check(lt(x, b), x, [](double u, double v) { return u < v; });
    check(x.le(b), x, [](double u, double v) { return u <= v; });
    check(gt(x, b), x, [](double u, double v) { return u > v; });
    check(x.ge(b), x, [](double u, double v) { return u >= v; });
  }
}

TEST(Compare, ScalarFormsPromoteLikePyTorch) {
  const Tensor i = from_values({4}, {1, 2, 3, 4}, kInt32);
  EXPECT_EQ(lt(i, 2.5).to_vector(), (std::vector<double>{1, 1, 0, 0}));  // compared as float
  EXPECT_EQ(ge(i, 3).to_vector(), (std::vector<double>{0, 0, 1, 1}));
  EXPECT_EQ(eq(i, 2).to_vector(), (std::vector<double>{0, 1, 0, 0}));
  EXPECT_EQ(ne(i, 2).to_vector(), (std::vector<double>{1, 0, 1, 1}));
  EXPECT_EQ(le(i, 1).to_vector(), (std::vector<double>{1, 0, 0, 0}));
  EXPECT_EQ(gt(i, 3.5).to_vector(), (std::vector<double>{0, 0, 0, 1}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor n = from_values({2}, {nan, 1});
  EXPECT_EQ(eq(n, n).to_vector(), (std::vector<double>{0, 1}));
  EXPECT_EQ(ne(n, n).to_vector(), (std::vector<double>{1, 0}));
  EXPECT_EQ(logical_not(from_values({3}, {0, 2, -1}, kInt64)).to_vector(), (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(logical_not(from_values({2}, {1, 0}, kBool)).dtype(), kBool);
  EXPECT_THAT([&] { (void)eq(uniform({2, 3}, 1), uniform({4}, 2)); },
              ThrowsMessage<ShapeError>(HasSubstr("eq: shapes [2, 3] and [4] cannot be broadcast")));
}

TEST(Where, AllOverloadsMatchReference) {
  const Tensor cond = from_values({3, 1}, {1, 0, 1}, kBool);
  const Tensor a = transposed_copy(uniform({3, 4}, 3));
  const Tensor b = uniform({4}, 4);
  const Tensor y = where(cond, a, b);
  EXPECT_EQ(y.shape(), (Shape{3, 4}));
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      EXPECT_EQ(y.at({i, j}), i != 1 ? a.at({i, j}) : b.at({j}));
      EXPECT_EQ(where(cond, a, 2.5).at({i, j}), i != 1 ? a.at({i, j}) : 2.5);
      EXPECT_EQ(where(cond, -1, b).at({i, j}), i != 1 ? -1 : b.at({j}));
    }
  }
  EXPECT_EQ(where(cond, from_values({1}, {1}, kInt64), 0.5).dtype(), kFloat32);
  EXPECT_EQ(where(cond, a, from_values({4}, {1, 2, 3, 4}, kFloat32)).dtype(), kFloat64);
  EXPECT_THAT([&] { (void)where(a, a, b); },
              ThrowsMessage<DTypeError>(HasSubstr("where: expected condition to be a bool tensor")));
  EXPECT_THROW((void)where(cond, uniform({2, 4}, 5), b), ShapeError);
}

TEST(MaskedFill, OutOfPlaceBroadcastsAndInPlaceWritesSelf) {
  const Tensor x = transposed_copy(uniform({3, 4}, 6));
  const Tensor mask = from_values({4}, {1, 0, 0, 1}, kBool);
  const Tensor y = x.masked_fill(mask, -7);
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(y.at({i, j}), (j == 0 || j == 3) ? -7 : x.at({i, j}));
  }
  const Tensor row = uniform({4}, 7);
  EXPECT_EQ(masked_fill(row, from_values({2, 1}, {1, 0}, kBool), 0).shape(), (Shape{2, 4}));
  Tensor z = uniform({3, 4}, 8);
  const Tensor expected = z.masked_fill(mask, 1.5);
  const uint64_t version = z.storage()->version();
  z.masked_fill_(mask, 1.5);
  EXPECT_TRUE(all_close(z, expected, 0, 0));
  EXPECT_GT(z.storage()->version(), version);
  // The classic causal mask: fill -inf above the diagonal.
  Tensor scores = uniform({3, 3}, 9);
  const Tensor causal = from_values({3, 3}, {0, 1, 1, 0, 0, 1, 0, 0, 0}, kBool);
  scores.masked_fill_(causal, -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isinf(scores.at({0, 2})) && !std::isinf(scores.at({2, 0})));
  EXPECT_THAT([&] { (void)x.masked_fill(from_values({4}, {1, 0, 0, 1}), 0); },
              ThrowsMessage<DTypeError>(HasSubstr("masked_fill: expected mask to be a bool tensor")));
  EXPECT_THROW(z.masked_fill_(from_values({2, 1, 4}, {1, 0, 0, 1, 1, 0, 0, 1}, kBool), 0), ShapeError);
  EXPECT_THROW((void)x.masked_fill(from_values({3}, {1, 0, 1}, kBool), 0), ShapeError);
}

TEST(SelectGrad, WhereAndMaskedFill) {
  const Tensor cond = from_values({3, 1}, {1, 0, 1}, kBool);
  const Tensor mask = from_values({4}, {0, 1, 1, 0}, kBool);
  const Tensor row_mask = from_values({3}, {1, 0, 1}, kBool);
  const Inputs in = {random_input({4, 3}, 10), random_input({4}, 11)};
  EXPECT_TRUE(gradcheck("where", [&](const Inputs& x) { return where(cond, transpose2d(x[0]), x[1]); }, in));
  EXPECT_TRUE(gradcheck("where", [&](const Inputs& x) { return where(cond, x[1], 0.5); }, in));
  EXPECT_TRUE(gradcheck("where", [&](const Inputs& x) { return where(cond, 0.5, transpose2d(x[0])); }, in));
  EXPECT_TRUE(gradcheck("masked_fill", [&](const Inputs& x) { return transpose2d(x[0]).masked_fill(mask, 2); }, in));
  EXPECT_TRUE(gradcheck("masked_fill", [&](const Inputs& x) { return x[1].masked_fill(cond, 2); }, in));
  EXPECT_TRUE(gradcheck("masked_fill", [&](const Inputs& x) { return (x[0] * 1).masked_fill_(row_mask, 0); }, in));
}

TEST(Select, MatchesPyTorchFixture) {
  const testing::Fixture fx = testing::load_fixture("elementwise_select");
  Tensor a = fx["a"].detach().requires_grad_();
  Tensor b = fx["b"].detach().requires_grad_();
  const Tensor y = where(fx["cond"], a, b);
  y.backward(fx["dy"]);
  EXPECT_TRUE(all_close(y, fx["where"], 0, 0));
  EXPECT_TRUE(all_close(a.grad(), fx["where_grad_a"], 1e-15, 0));
  EXPECT_TRUE(all_close(b.grad(), fx["where_grad_b"], 1e-15, 1e-15));
  a.set_grad(Tensor());
  const Tensor m = a.masked_fill(fx["mask"], -1.5);
  m.backward(fx["dy"]);
  EXPECT_TRUE(all_close(m, fx["masked_fill"], 0, 0));
  EXPECT_TRUE(all_close(a.grad(), fx["masked_fill_grad"], 0, 0));
}

TEST(Binary, MatchesPyTorchFixtureWithPromotion) {
  const testing::Fixture fx = testing::load_fixture("elementwise_binary");
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&, const Tensor&)>>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b, 2.5); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a.abs() + 0.1, b); }},
  };
  for (const auto& [name, fn] : ops) {
    Tensor a = fx["a"].detach().requires_grad_();
    Tensor b = fx["b"].detach().requires_grad_();  // f32, promoted to f64 by a
    const Tensor y = fn(a, b);
    y.backward(fx["dy"]);
    EXPECT_EQ(y.dtype(), kFloat64) << name;
    EXPECT_EQ(b.grad().dtype(), kFloat32) << name;
    EXPECT_TRUE(all_close(y, fx[name], 1e-12, 1e-12)) << name;
    EXPECT_TRUE(all_close(a.grad(), fx[name + "_grad_a"], 1e-12, 1e-12)) << name;
    // b's gradient is summed in f64 and rounded to f32 once, by PyTorch and by nabla.
    EXPECT_TRUE(all_close(b.grad(), fx[name + "_grad_b"], 1e-6, 1e-6)) << name;
  }
}

TEST(Predicates, AllcloseAndEqual) {
  const Tensor a = from_values({3}, {1.0, 2.0, std::numeric_limits<double>::infinity()});
  const Tensor b = from_values({3}, {1.0 + 1e-9, 2.0, std::numeric_limits<double>::infinity()});
  EXPECT_TRUE(allclose(a, b));
  EXPECT_FALSE(allclose(a, b, 0, 0));
  EXPECT_FALSE(allclose(a, from_values({3}, {1.0, 2.1, 3.0})));
  EXPECT_FALSE(allclose(a, from_values({1, 3}, {1, 2, 3})));
  const Tensor n = from_values({1}, {std::numeric_limits<double>::quiet_NaN()});
  EXPECT_FALSE(allclose(n, n));
  EXPECT_TRUE(equal(a, a * 1));
  EXPECT_FALSE(equal(a, b));
  EXPECT_FALSE(equal(from_values({2}, {1, 2}, kInt64), from_values({2}, {1, 2}, kInt32)));
  EXPECT_TRUE(equal(transposed_copy(uniform({3, 4}, 12)), uniform({3, 4}, 12)));
  // 2^53 and 2^53 + 1 are one double apart from being equal: compared as int64.
  const Tensor big = from_values({1}, {9007199254740992.0}, kInt64);
  EXPECT_FALSE(equal(big, big + 1));
  EXPECT_TRUE(equal(big + 1, big + 1));
}

}  // namespace
}  // namespace nabla
