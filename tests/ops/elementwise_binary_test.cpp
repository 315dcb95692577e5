// Binary element-wise ops and sum_to: forward against naive double loops (odd sizes,
// broadcasting, transposed views), type promotion, errors, in-place forms and gradcheck.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/threads.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
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

// f64 results agree with the double loop up to the rounding of a few operations.
constexpr double kTol = 1e-12;

TEST(Add, MatchesReferenceWithBroadcasting) {
  const Tensor a = uniform({7, 1, 5}, 1);
  const Tensor b = uniform({3, 1}, 2);
  EXPECT_EQ((a + b).shape(), (Shape{7, 3, 5}));
  EXPECT_TRUE(all_close(a + b, reference(a, b, [](double x, double y) { return x + y; }), kTol, kTol));
  EXPECT_TRUE(all_close(add(a, b, 2.5),
                        reference(a, b, [](double x, double y) { return x + 2.5 * y; }), kTol, kTol));
  EXPECT_TRUE(all_close(a.sub(b, 3), reference(a, b, [](double x, double y) { return x - 3 * y; }),
                        kTol, kTol));
}

TEST(Add, MatchesReferenceOnTransposedRowBroadcastAndLargeInputs) {
  const Tensor a = transposed_copy(uniform({33, 17}, 3));
  const Tensor b = uniform({17}, 4);
  ASSERT_FALSE(a.is_contiguous());
  const auto plus = [](double x, double y) { return x + y; };
  EXPECT_TRUE(all_close(a + b, reference(a, b, plus), kTol, kTol));
  // Above the parallel threshold: bias add (N, C) + (C), transposed + contiguous, and a
  // column broadcast (N, 1).
  const Tensor big = uniform({301, 257}, 5);
  const Tensor bias = uniform({257}, 6);
  const Tensor col = uniform({301, 1}, 7);
  const Tensor big_t = transposed_copy(uniform({301, 257}, 8));
  EXPECT_TRUE(all_close(big + bias, reference(big, bias, plus), kTol, kTol));
  EXPECT_TRUE(all_close(big + col, reference(big, col, plus), kTol, kTol));
  EXPECT_TRUE(all_close(big_t + big, reference(big_t, big, plus), kTol, kTol));
}

TEST(Arithmetic, SubMulDivMatchReference) {
  const Tensor a = uniform({5, 3}, 11, 0.5, 2.0);
  const Tensor b = transposed_copy(uniform({5, 3}, 12, 0.5, 2.0));
  const Tensor c = uniform({3}, 13, 0.5, 2.0);
  EXPECT_TRUE(all_close(a - b, reference(a, b, [](double x, double y) { return x - y; }), kTol, kTol));
  EXPECT_TRUE(all_close(a * c, reference(a, c, [](double x, double y) { return x * y; }), kTol, kTol));
  EXPECT_TRUE(all_close(b / c, reference(b, c, [](double x, double y) { return x / y; }), kTol, kTol));
  EXPECT_TRUE(all_close(a.mul(b), reference(a, b, [](double x, double y) { return x * y; }), kTol, kTol));
  EXPECT_TRUE(all_close(a.div(c), reference(a, c, [](double x, double y) { return x / y; }), kTol, kTol));
}

TEST(Arithmetic, ScalarOperandsOnBothSides) {
  const Tensor a = uniform({4, 7}, 14, 0.5, 2.0);
  EXPECT_TRUE(all_close(a + 2, reference(a, [](double x) { return x + 2; }), kTol, kTol));
  EXPECT_TRUE(all_close(2 + a, reference(a, [](double x) { return 2 + x; }), kTol, kTol));
  EXPECT_TRUE(all_close(a - 0.5, reference(a, [](double x) { return x - 0.5; }), kTol, kTol));
  EXPECT_TRUE(all_close(0.5 - a, reference(a, [](double x) { return 0.5 - x; }), kTol, kTol));
  EXPECT_TRUE(all_close(a * 3, reference(a, [](double x) { return x * 3; }), kTol, kTol));
  EXPECT_TRUE(all_close(3 * a, reference(a, [](double x) { return 3 * x; }), kTol, kTol));
  EXPECT_TRUE(all_close(a / 4, reference(a, [](double x) { return x / 4; }), kTol, kTol));
  EXPECT_TRUE(all_close(1 / a, reference(a, [](double x) { return 1 / x; }), kTol, kTol));
  EXPECT_TRUE(all_close(-a, reference(a, [](double x) { return -x; }), kTol, kTol));
}

TEST(Pow, MatchesReferenceForTensorAndScalarExponents) {
  const Tensor a = uniform({3, 5}, 15, 0.2, 2.0);
  const Tensor e = uniform({5}, 16, -2.0, 2.0);
  EXPECT_TRUE(all_close(pow(a, e), reference(a, e, [](double x, double y) { return std::pow(x, y); }),
                        1e-12, 1e-12));
  for (double p : {2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 1.7, 0.0}) {
    EXPECT_TRUE(all_close(a.pow(p), reference(a, [p](double x) { return std::pow(x, p); }), 1e-12,
                          1e-12)) << "exponent " << p;
  }
  EXPECT_TRUE(all_close(pow(2.5, e), reference(e, [](double x) { return std::pow(2.5, x); }), 1e-12,
                        1e-12));
  const Tensor i = from_values({4}, {-3, 2, 0, 5}, kInt64);
  EXPECT_EQ(i.pow(3).dtype(), kInt64);
  EXPECT_EQ(i.pow(3).to_vector(), (std::vector<double>{-27, 8, 0, 125}));
  EXPECT_EQ(i.pow(0.5).dtype(), kFloat32);
  EXPECT_THAT([&] { (void)i.pow(-1); }, ThrowsMessage<Error>(HasSubstr("negative integer powers")));
}

TEST(Extremum, MaximumMinimumMatchReferenceAndPropagateNaN) {
  const Tensor a = uniform({6, 5}, 17);
  const Tensor b = uniform({5}, 18);
  EXPECT_TRUE(all_close(maximum(a, b), reference(a, b, [](double x, double y) { return std::max(x, y); }),
                        0, 0));
  EXPECT_TRUE(all_close(minimum(a, b), reference(a, b, [](double x, double y) { return std::min(x, y); }),
                        0, 0));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor n = from_values({2}, {nan, 1.0});
  const Tensor m = from_values({2}, {0.0, nan});
  for (const Tensor& r : {maximum(n, m), minimum(n, m), maximum(m, n)}) {
    EXPECT_TRUE(std::isnan(r.at({0})) && std::isnan(r.at({1})));
  }
}

TEST(TypePromotion, FollowsPyTorch) {
  const Tensor i32 = from_values({3}, {1, 2, 3}, kInt32);
  const Tensor i64 = from_values({3}, {4, 5, 6}, kInt64);
  const Tensor f32 = from_values({3}, {1, 2, 3}, kFloat32);
  const Tensor f64 = from_values({3}, {1, 2, 3}, kFloat64);
  const Tensor bf = from_values({3}, {1, 2, 3}, kBFloat16);
  const Tensor bl = from_values({3}, {1, 0, 0}, kBool);
  const Tensor f64_0d = from_values({}, {2}, kFloat64);
  EXPECT_EQ((i32 + 1.5).dtype(), kFloat32);
  EXPECT_EQ((i32 + 1.5).to_vector(), (std::vector<double>{2.5, 3.5, 4.5}));
  EXPECT_EQ((i32 + 1).dtype(), kInt32);
  EXPECT_EQ((i32 + i64).dtype(), kInt64);
  EXPECT_EQ((i32 / i64).dtype(), kFloat32);
  EXPECT_TRUE(all_close(i32 / i64, from_values({3}, {0.25, 0.4, 0.5}), 1e-7, 0));
  EXPECT_EQ((i32 / 2).dtype(), kFloat32);
  EXPECT_EQ((f32 + f64).dtype(), kFloat64);
  EXPECT_EQ((f32 + f64_0d).dtype(), kFloat32);  // a 0-d tensor does not widen a dimensioned one
  EXPECT_EQ((i32 + f64_0d).dtype(), kFloat64);  // ... unless it is of a higher category
  EXPECT_EQ((bf + f32).dtype(), kFloat32);
  EXPECT_EQ((bf * 0.5).dtype(), kBFloat16);
  EXPECT_EQ((bl + bl).dtype(), kBool);
  EXPECT_EQ((bl + 1).dtype(), kInt64);
  EXPECT_EQ((bl * 2.0).dtype(), kFloat32);
  EXPECT_EQ((bl + from_values({3}, {0, 1, 0}, kBool)).to_vector(), (std::vector<double>{1, 1, 0}));
  EXPECT_EQ((bl * from_values({3}, {1, 1, 0}, kBool)).to_vector(), (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(maximum(i32, f32).dtype(), kFloat32);
}

TEST(Bf16, ComputesInF32AndRoundsOnce) {
  const Tensor a = uniform({9, 13}, 19, -3, 3, kBFloat16);
  const Tensor b = uniform({13}, 20, -3, 3, kBFloat16);
  const Tensor ref = reference(a, b, [](double x, double y) {
    return static_cast<double>(static_cast<float>(BFloat16(static_cast<float>(x) * static_cast<float>(y))));
  });
  const Tensor y = a * b;
  EXPECT_EQ(y.dtype(), kBFloat16);
  EXPECT_TRUE(all_close(y, ref, 0, 0));
  // A scalar keeps f32 precision (0.1 is not rounded to bf16 first), as in PyTorch.
  const Tensor z = a * 0.1;
  EXPECT_TRUE(all_close(z, reference(a, [](double x) {
    return static_cast<double>(static_cast<float>(BFloat16(static_cast<float>(x) * 0.1f)));
  }), 0, 0));
}

TEST(BinaryErrors, NameTheOpAndOperands) {
  const Tensor a = uniform({2, 3}, 21);
  const Tensor b = uniform({4}, 22);
  EXPECT_THAT([&] { (void)(a + b); },
              ThrowsMessage<ShapeError>(HasSubstr("add: shapes [2, 3] and [4] cannot be broadcast")));
  EXPECT_THAT([&] { (void)mul(a, b); }, ThrowsMessage<ShapeError>(HasSubstr("mul: shapes")));
  const Tensor i = from_values({2}, {1, 2}, kInt64);
  EXPECT_THAT([&] { (void)add(i, i, 0.5); }, ThrowsMessage<DTypeError>(HasSubstr("alpha")));
  const Tensor bl = from_values({2}, {1, 0}, kBool);
  EXPECT_THAT([&] { (void)(bl - bl); }, ThrowsMessage<DTypeError>(HasSubstr("bool")));
  EXPECT_THROW((void)(a + Tensor()), Error);
}

TEST(InPlace, ArithmeticWritesSelfWithBroadcasting) {
  Tensor a = uniform({4, 5}, 23);
  const Tensor before = a.detach();
  const Tensor ref = reference(a, uniform({5}, 24), [](double x, double y) { return x + 2 * y; });
  const uint64_t version = a.storage()->version();
  Tensor& r = a.add_(uniform({5}, 24), 2);
  EXPECT_EQ(&r, &a);
  EXPECT_GT(a.storage()->version(), version);
  EXPECT_TRUE(all_close(a, ref, kTol, kTol));
  EXPECT_TRUE(before.is_alias_of(a));
  Tensor s = uniform({3}, 25, 1, 2);
  const Tensor s0 = reference(s, [](double x) { return ((x + 1) * 3 - 2) / 4; });
  s += 1;
  s *= 3;
  s -= 2;
  s /= 4;
  EXPECT_TRUE(all_close(s, s0, kTol, kTol));
  Tensor m = uniform({2, 3}, 26, 1, 2);
  const Tensor d = uniform({2, 3}, 27, 1, 2);
  const Tensor m0 = reference(m, d, [](double x, double y) { return (x * y) / y - y; });
  m *= d;
  m /= d;
  m -= d;
  EXPECT_TRUE(all_close(m, m0, kTol, kTol));
}

TEST(InPlace, OverlappingOperandIsReadBeforeWriting) {
  // x += x^T on a square matrix must use the original values of x^T.
  Tensor x = uniform({9, 9}, 28);
  const Tensor xt = Tensor::make_view(x.storage(), {9, 9}, {1, 9}, 0, kFloat64);
  const Tensor ref = reference(x, xt, [](double a, double b) { return a + b; });
  x += xt;
  EXPECT_TRUE(all_close(x, ref, kTol, kTol));
}

TEST(InPlace, ErrorsFollowPyTorch) {
  Tensor i = from_values({3}, {1, 2, 3}, kInt64);
  EXPECT_THAT([&] { i.div_(2); }, ThrowsMessage<DTypeError>(HasSubstr("can't be cast")));
  EXPECT_THAT([&] { i.add_(0.5); }, ThrowsMessage<DTypeError>(HasSubstr("can't be cast")));
  i.add_(2);
  EXPECT_EQ(i.to_vector(), (std::vector<double>{3, 4, 5}));
  Tensor small = uniform({3}, 29);
  EXPECT_THAT([&] { small.add_(uniform({2, 3}, 30)); },
              ThrowsMessage<ShapeError>(HasSubstr("doesn't match the broadcast shape")));
  Tensor leaf = random_input({3}, 31);
  EXPECT_THAT([&] { leaf.mul_(2); }, ThrowsMessage<Error>(HasSubstr("leaf tensor that requires grad")));
  {
    NoGradGuard guard;  // optimizer-style updates are allowed
    leaf.mul_(2);
  }
  const Tensor base = uniform({3}, 32);
  Tensor expanded = Tensor::make_view(base.storage(), {2, 3}, {0, 1}, 0, kFloat64);
  EXPECT_THAT([&] { expanded.add_(1); }, ThrowsMessage<Error>(HasSubstr("single memory location")));
}

// ---- gradients -------------------------------------------------------------------------

TEST(BinaryGrad, AddSubBroadcastAndTransposed) {
  const Inputs in = {random_input({4, 3}, 40), random_input({3}, 41), random_input({3, 4}, 42)};
  EXPECT_TRUE(gradcheck("add", [](const Inputs& x) { return add(x[0], x[1], 1.5); }, in));
  EXPECT_TRUE(gradcheck("add", [](const Inputs& x) { return x[0] + transpose2d(x[2]); }, in));
  EXPECT_TRUE(gradcheck("sub", [](const Inputs& x) { return sub(x[1], x[0], 2); }, in));
  EXPECT_TRUE(gradcheck("add", [](const Inputs& x) { return 2 + x[0] - 1.5; }, in));
}

TEST(BinaryGrad, MulDivBroadcastAndTransposed) {
  const Inputs in = {random_input({4, 3}, 43), random_input({3}, 44, 0.5, 1.5),
                     random_input({3, 4}, 45, 0.5, 1.5), random_input({4, 1}, 46)};
  EXPECT_TRUE(gradcheck("mul", [](const Inputs& x) { return x[0] * x[1]; }, in));
  EXPECT_TRUE(gradcheck("mul", [](const Inputs& x) { return transpose2d(x[2]) * x[3]; }, in));
  EXPECT_TRUE(gradcheck("mul", [](const Inputs& x) { return 3 * x[0] * 0.5; }, in));
  EXPECT_TRUE(gradcheck("div", [](const Inputs& x) { return x[0] / x[1]; }, in));
  EXPECT_TRUE(gradcheck("div", [](const Inputs& x) { return x[3] / transpose2d(x[2]); }, in));
  EXPECT_TRUE(gradcheck("div", [](const Inputs& x) { return 2 / x[1] + x[0] / 4; }, in));
}

TEST(BinaryGrad, PowAllForms) {
  const Inputs in = {random_input({3, 4}, 47, 0.5, 2.0), random_input({4}, 48, -1.5, 1.5),
                     random_input({4, 3}, 49, 0.5, 2.0)};
  EXPECT_TRUE(gradcheck("pow", [](const Inputs& x) { return pow(x[0], x[1]); }, in));
  EXPECT_TRUE(gradcheck("pow", [](const Inputs& x) { return pow(transpose2d(x[2]), x[1]); }, in));
  for (double p : {2.0, 3.0, 0.5, -1.0, 1.7, 0.0}) {
    EXPECT_TRUE(gradcheck("pow", [p](const Inputs& x) { return transpose2d(x[2]).pow(p); }, in))
        << "exponent " << p;
  }
  EXPECT_TRUE(gradcheck("pow", [](const Inputs& x) { return pow(1.7, x[1]); }, in));
}

TEST(BinaryGrad, PowAtZeroBaseMatchesPyTorch) {
  // d/de 0^e is defined as 0 for e >= 0 (PyTorch masks the log(0) term); d/db b^0 is 0.
  Tensor base = from_values({2}, {0.0, 0.0}).requires_grad_();
  Tensor e = from_values({2}, {2.0, 0.0}).requires_grad_();
  pow(base, e).backward(from_values({2}, {1, 1}));
  EXPECT_EQ(e.grad().to_vector(), (std::vector<double>{0, 0}));
  EXPECT_EQ(base.grad().to_vector(), (std::vector<double>{0, 0}));
}

TEST(BinaryGrad, MaximumMinimumSplitTies) {
  // Inputs far apart so finite differences never cross a tie.
  const Inputs in = {from_values({2, 3}, {0.1, 0.9, -0.5, 0.3, -0.8, 0.6}).requires_grad_(),
                     from_values({3}, {0.5, -0.2, 0.0}).requires_grad_()};
  EXPECT_TRUE(gradcheck("maximum", [](const Inputs& x) { return maximum(x[0], x[1]); }, in));
  EXPECT_TRUE(gradcheck("minimum", [](const Inputs& x) { return minimum(x[1], x[0]); }, in));
  Tensor a = from_values({2}, {1.0, 2.0}).requires_grad_();
  Tensor b = from_values({2}, {1.0, 3.0}).requires_grad_();
  maximum(a, b).backward(from_values({2}, {1, 1}));
  EXPECT_EQ(a.grad().to_vector(), (std::vector<double>{0.5, 0}));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{0.5, 1}));
}

TEST(BinaryGrad, MixedDtypesGetGradientsInTheirOwnDtype) {
  Tensor a = from_values({3}, {1, 2, 3}, kFloat32).requires_grad_();
  Tensor b = from_values({2, 3}, {1, 2, 3, 4, 5, 6}).requires_grad_();
  const Tensor y = a * b;
  EXPECT_EQ(y.dtype(), kFloat64);
  y.backward(from_values({2, 3}, {1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(a.grad().dtype(), kFloat32);
  EXPECT_EQ(a.grad().to_vector(), (std::vector<double>{5, 7, 9}));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
}

TEST(InPlaceGrad, NonLeafHistoryIsRebased) {
  const Inputs in = {random_input({2, 3}, 50), random_input({3}, 51, 0.5, 1.5)};
  EXPECT_TRUE(gradcheck("add", [](const Inputs& x) {
    Tensor y = x[0] * 1.5;
    y.add_(x[1], 2);
    return y;
  }, in));
  EXPECT_TRUE(gradcheck("mul", [](const Inputs& x) {
    Tensor y = x[0] + 0.0;
    y.mul_(x[1]);
    y += x[0];
    y.sub_(x[1]);
    return y;
  }, in));
  EXPECT_TRUE(gradcheck("div", [](const Inputs& x) {
    Tensor y = x[0] * 1.0;
    y /= x[1];
    y *= 2;
    y.div_(3);
    return y;
  }, in));
}

// ---- sum_to ----------------------------------------------------------------------------

// Sums t (f64) over the dims that broadcasting added, for shape: the double-loop reference.
Tensor sum_to_reference(const Tensor& t, const Shape& shape) {
  Tensor out = Tensor::empty(shape, kFloat64);
  std::vector<double> acc(static_cast<size_t>(out.numel()), 0.0);
  const std::vector<double> v = t.to_vector();
  Shape idx(t.shape().size(), 0);
  const size_t lead = t.shape().size() - shape.size();
  for (double x : v) {
    int64_t o = 0;
    for (size_t i = 0; i < shape.size(); ++i) o = o * shape[i] + (shape[i] == 1 ? 0 : idx[lead + i]);
    acc[static_cast<size_t>(o)] += x;
    for (int64_t i = t.dim() - 1; i >= 0 && ++idx[i] == t.shape()[i]; --i) idx[i] = 0;
  }
  std::copy(acc.begin(), acc.end(), out.data<double>());
  return out;
}

TEST(SumTo, MatchesReferenceForEveryBroadcastPattern) {
  const Tensor g = uniform({2, 3, 5}, 60);
  for (const Shape& s : {Shape{3, 1}, Shape{}, Shape{1, 5}, Shape{5}, Shape{2, 1, 5}, Shape{1, 3, 1},
                         Shape{2, 3, 1}, Shape{1}}) {
    EXPECT_TRUE(all_close(sum_to(g, s), sum_to_reference(g, s), 1e-12, 1e-12)) << s;
  }
  EXPECT_TRUE(sum_to(g, g.shape()).is_alias_of(g));  // nothing to sum: the same tensor
  const Tensor gt = transposed_copy(uniform({37, 41}, 61));
  for (const Shape& s : {Shape{41}, Shape{37, 1}, Shape{}}) {
    EXPECT_TRUE(all_close(sum_to(gt, s), sum_to_reference(gt, s), 1e-12, 1e-12)) << s;
  }
  const Tensor big = uniform({4, 301, 129}, 62);  // above the parallel threshold
  for (const Shape& s : {Shape{129}, Shape{301, 1}, Shape{4, 1, 129}, Shape{}}) {
    EXPECT_TRUE(all_close(sum_to(big, s), sum_to_reference(big, s), 1e-12, 1e-12)) << s;
  }
}

TEST(SumTo, WorksForF32Bf16AndIntegers) {
  const Tensor f = uniform({64, 33}, 63, -1, 1, kFloat32);
  EXPECT_EQ(sum_to(f, {33}).dtype(), kFloat32);
  EXPECT_TRUE(all_close(sum_to(f, {33}), sum_to_reference(f, {33}), 1e-6, 1e-6));
  const Tensor b = uniform({17, 5}, 64, -1, 1, kBFloat16);
  // bf16 result: one rounding of an exact-ish sum, 2^-8 relative.
  EXPECT_TRUE(all_close(sum_to(b, {1, 5}), sum_to_reference(b, {1, 5}), 4e-3, 1e-6));
  const Tensor i = from_values({2, 2}, {1, 2, 3, 4}, kInt64);
  EXPECT_EQ(sum_to(i, {2}).dtype(), kInt64);
  EXPECT_EQ(sum_to(i, {2}).to_vector(), (std::vector<double>{4, 6}));
}

TEST(SumTo, RejectsShapesThatDoNotBroadcast) {
  const Tensor g = uniform({2, 3}, 65);
  EXPECT_THAT([&] { (void)sum_to(g, {4}); },
              ThrowsMessage<ShapeError>(HasSubstr("sum_to: shape [4] is not expandable to size [2, 3]")));
  EXPECT_THROW((void)sum_to(g, {1, 2, 3}), ShapeError);
}

TEST(SumTo, IsBitwiseIdenticalForAnyThreadCount) {
  const Tensor g = uniform({64, 517, 3}, 66, -1, 1, kFloat32);
  const int threads = get_num_threads();
  set_num_threads(1);
  const Tensor one = sum_to(g, {517, 1});
  const Tensor one_b = g * 0.3 + g;
  set_num_threads(threads > 1 ? threads : 2);
  EXPECT_TRUE(all_close(sum_to(g, {517, 1}), one, 0, 0));
  EXPECT_TRUE(all_close(g * 0.3 + g, one_b, 0, 0));
  set_num_threads(threads);
}

TEST(SumTo, Gradient) {
  const Inputs in = {random_input({3, 4}, 67)};
  EXPECT_TRUE(gradcheck("sum_to", [](const Inputs& x) { return sum_to(x[0], {4}); }, in));
}

}  // namespace
}  // namespace nabla
