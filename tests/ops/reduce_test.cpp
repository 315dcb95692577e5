// Reductions and the softmax family: forward against naive double loops over odd sizes,
// non-adjacent dims and non-contiguous inputs; gradcheck for each op; a PyTorch fixture;
// numerics (stability, ties, NaN) and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "nabla/core/threads.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/reduce.h"
#include "tests/ops/strided_view.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using testing::gradcheck;
using testing::random_input;
using testing::strided_view;
using testing::transposed;
using V = std::vector<Tensor>;
using Group = std::vector<double>;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Groups x's elements by output position: the values each output reduces, in dim order.
std::vector<Group> groups(const Tensor& x, const Shape& dims) {
  std::vector<bool> red(static_cast<size_t>(x.dim()), dims.empty());
  for (int64_t d : dims) red[static_cast<size_t>(d < 0 ? d + x.dim() : d)] = true;
  int64_t n_out = 1;
  for (int64_t d = 0; d < x.dim(); ++d) n_out *= red[static_cast<size_t>(d)] ? 1 : x.size(d);
  std::vector<Group> g(static_cast<size_t>(n_out));
  Shape idx(static_cast<size_t>(x.dim()), 0);
  for (int64_t n = 0; n < x.numel(); ++n) {
    int64_t o = 0;
    for (int64_t d = 0; d < x.dim(); ++d) {
      if (!red[static_cast<size_t>(d)]) o = o * x.size(d) + idx[static_cast<size_t>(d)];
    }
    g[static_cast<size_t>(o)].push_back(x.at(idx));
    for (int64_t d = x.dim() - 1; d >= 0 && ++idx[static_cast<size_t>(d)] == x.size(d); --d) {
      idx[static_cast<size_t>(d)] = 0;
    }
  }
  return g;
}

void expect_reduces_like(const Tensor& y, const Tensor& x, const Shape& dims,
                         const std::function<double(const Group&)>& fn, double tol) {
  const std::vector<Group> g = groups(x, dims);
  const std::vector<double> got = y.to_vector();
  ASSERT_EQ(got.size(), g.size());
  for (size_t i = 0; i < g.size(); ++i) {
    const double want = fn(g[i]);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got[i])) << "output " << i;
    } else {
      ASSERT_NEAR(got[i], want, tol * (1 + std::abs(want))) << "output " << i;
    }
  }
}

double gsum(const Group& g) { return std::accumulate(g.begin(), g.end(), 0.0); }
double gmean(const Group& g) { return gsum(g) / static_cast<double>(g.size()); }
double gvar(const Group& g, int64_t c) {
  const double m = gmean(g);
  double s = 0;
  for (double v : g) s += (v - m) * (v - m);
  return s / static_cast<double>(static_cast<int64_t>(g.size()) - c);
}
double gmax(const Group& g) { return *std::max_element(g.begin(), g.end()); }
double gmin(const Group& g) { return *std::min_element(g.begin(), g.end()); }
double glse(const Group& g) {
  const double m = gmax(g);
  double s = 0;
  for (double v : g) s += std::exp(v - m);
  return m + std::log(s);
}
std::function<double(const Group&)> gnorm(double p) {
  return [p](const Group& g) {
    double s = 0;
    for (double v : g) s = std::isinf(p) ? std::max(s, std::abs(v)) : s + std::pow(std::abs(v), p);
    return std::isinf(p) ? s : std::pow(s, 1.0 / p);
  };
}

Tensor input(const Shape& shape, uint64_t seed, DType dtype = kFloat64) {
  return random_input(shape, seed, -2, 2, false).to(dtype);
}

// A (3, 5, 7) tensor viewed through a permutation: non-contiguous, odd sizes.
Tensor permuted357(uint64_t seed, DType dtype = kFloat64) {
  const Tensor x = input({7, 3, 5}, seed, dtype);
  return Tensor::make_view(x.storage(), {3, 5, 7}, {5, 1, 15}, 0, dtype);
}

TEST(Sum, MatchesNaiveOverDims) {
  for (DType dt : {kFloat32, kFloat64}) {
    const Tensor x = permuted357(1, dt);
    for (const Shape& dims : {Shape{}, Shape{0}, Shape{1}, Shape{2}, Shape{0, 2}, Shape{-1, 1}}) {
      expect_reduces_like(x.sum(dims), x, dims, gsum, 1e-6);
      expect_reduces_like(x.mean(dims, true), x, dims, gmean, 1e-6);
    }
    expect_reduces_like(x.sum(), x, {}, gsum, 1e-6);
    EXPECT_EQ(x.sum({0, 2}, true).shape(), (Shape{1, 5, 1}));
    EXPECT_EQ(x.sum({0, 2}).shape(), (Shape{5}));
    EXPECT_EQ(x.mean().shape(), Shape{});
  }
  const Tensor b = permuted357(2, kBFloat16);
  expect_reduces_like(b.sum({1}), b, {1}, gsum, 1e-2);
}

TEST(Sum, IntegersSumToInt64) {
  const Tensor x = tensor({{1, 2, 3}, {4, 5, 6}}).to(kInt32);
  EXPECT_EQ(x.sum().dtype(), kInt64);
  EXPECT_EQ(x.sum({0}).to_vector(), (std::vector<double>{5, 7, 9}));
  EXPECT_EQ(tensor({true, true, false}).sum().item<int64_t>(), 2);
  EXPECT_THROW(x.mean(), DTypeError);
}

TEST(Sum, LargeSumIsDeterministicAcrossThreadCounts) {
  const Tensor x = randn({1 << 20});
  const int before = get_num_threads();
  set_num_threads(1);
  const float one = x.sum().item<float>();
  const Tensor square = Tensor::make_view(x.storage(), {1024, 1024}, {1024, 1}, 0, kFloat32);
  const std::vector<double> cols1 = square.sum({0}).to_vector();
  set_num_threads(2);
  EXPECT_EQ(x.sum().item<float>(), one);
  EXPECT_EQ(square.sum({0}).to_vector(), cols1);
  set_num_threads(before);
  // Double accumulation: the f32 sum equals the exact sum rounded once.
  double exact = 0;
  for (double v : x.to_vector()) exact += v;
  EXPECT_EQ(one, static_cast<float>(exact));
}

TEST(Sum, EmptyAndScalar) {
  EXPECT_EQ(zeros({0, 3}).sum().item<float>(), 0.0f);
  EXPECT_EQ(zeros({0, 3}).sum({0}).to_vector(), (std::vector<double>{0, 0, 0}));
  EXPECT_TRUE(std::isnan(zeros({0}).mean().item<float>()));
  const Tensor s = full({}, 2.5);
  EXPECT_EQ(s.sum().item<float>(), 2.5f);
  EXPECT_EQ(s.sum({0}).item<float>(), 2.5f);
}

TEST(Sum, Errors) {
  const Tensor x = zeros({2, 3});
  EXPECT_THAT([&] { x.sum({1, -1}); }, ThrowsMessage<ShapeError>(HasSubstr("appears multiple times")));
  EXPECT_THROW(x.sum({2}), Error);
}

TEST(Var, MatchesNaive) {
  const Tensor x = permuted357(3);
  for (int64_t c : {0, 1}) {
    for (const Shape& dims : {Shape{}, Shape{1}, Shape{0, 2}}) {
      expect_reduces_like(x.var(dims, c), x, dims, [c](const Group& g) { return gvar(g, c); }, 1e-10);
    }
  }
  EXPECT_TRUE(std::isnan(full({1}, 3.0).var().item<float>()));  // 0 / 0, as in PyTorch
}

TEST(MaxMin, AllAndAlongDim) {
  const Tensor x = permuted357(4);
  expect_reduces_like(x.max(), x, {}, gmax, 0);
  expect_reduces_like(x.min(), x, {}, gmin, 0);
  for (int64_t d : {0, 1, 2}) {
    const auto [v, i] = x.max(d);
    expect_reduces_like(v, x, {d}, gmax, 0);
    expect_reduces_like(x.min(d).first, x, {d}, gmin, 0);
    EXPECT_EQ(i.dtype(), kInt64);
    EXPECT_EQ(i.to_vector(), x.argmax(d).to_vector());
  }
  EXPECT_EQ(x.max(1, true).first.shape(), (Shape{3, 1, 7}));
}

TEST(MaxMin, FirstIndexOnTiesAndNaNWins) {
  const Tensor x = tensor({{1.0, 3.0, 3.0, 0.0}, {2.0, NAN, 5.0, NAN}});
  EXPECT_EQ(x.max(1).second.to_vector(), (std::vector<double>{1, 1}));
  EXPECT_EQ(x.argmin(1).to_vector(), (std::vector<double>{3, 1}));
  EXPECT_TRUE(std::isnan(x.max().item<float>()));
  EXPECT_EQ(tensor({4, 9, 9, 1}).argmax().item<int64_t>(), 1);
  EXPECT_EQ(tensor({4, 9, 9, 1}).max().item<int64_t>(), 9);
}

TEST(MaxMin, GradientGoesToTheChosenElement) {
  Tensor x = tensor({{1.0, 3.0, 3.0}, {2.0, 2.0, 0.0}}, kFloat64).requires_grad_();
  x.max(1).first.sum().backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 1, 0, 1, 0, 0}));
  Tensor y = tensor({1.0, 3.0, 3.0}, kFloat64).requires_grad_();
  y.max().backward();  // split evenly among ties, as PyTorch does
  EXPECT_EQ(y.grad().to_vector(), (std::vector<double>{0, 0.5, 0.5}));
}

TEST(MaxMin, Errors) {
  EXPECT_THAT([] { zeros({0}).max(); }, ThrowsMessage<ShapeError>(HasSubstr("numel() == 0")));
  EXPECT_THROW(zeros({2, 0}).max(1), ShapeError);
}

// softmax along dim d by definition, row by row.
void expect_softmax(const Tensor& x, int64_t d, bool log) {
  const Tensor y = log ? x.log_softmax(d) : x.softmax(d);
  ASSERT_EQ(y.shape(), x.shape());
  const Tensor lse = x.logsumexp(d, true);
  for (int64_t n = 0; n < x.numel(); ++n) {
    Shape idx(static_cast<size_t>(x.dim()));
    for (int64_t k = x.dim() - 1, r = n; k >= 0; --k) {
      idx[static_cast<size_t>(k)] = r % x.size(k);
      r /= x.size(k);
    }
    Shape lidx = idx;
    lidx[static_cast<size_t>(d < 0 ? d + x.dim() : d)] = 0;
    const double ls = lse.at(lidx);
    const double want = log ? x.at(idx) - ls : std::exp(x.at(idx) - ls);
    ASSERT_NEAR(y.at(idx), want, 1e-6 * (1 + std::abs(want)));
  }
}

TEST(Softmax, MatchesNaiveAlongEveryDim) {
  for (DType dt : {kFloat32, kFloat64}) {
    const Tensor x = permuted357(5, dt);
    for (int64_t d : {0, 1, 2, -1}) {
      expect_softmax(x, d, false);
      expect_softmax(x, d, true);
      expect_reduces_like(x.logsumexp(d), x, {d}, glse, 1e-6);
    }
  }
  const Tensor wide = input({3, 1001}, 6, kFloat32);  // vectorised rows with a tail
  expect_softmax(wide, 1, false);
  expect_softmax(wide, 1, true);
}

TEST(Softmax, StableForLargeAndMaskedInputs) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x = tensor({{1000.0, 1001.0, -inf}, {-1000.0, -1000.0, -inf}});
  const std::vector<double> y = x.softmax(1).to_vector();
  EXPECT_NEAR(y[0], 1 / (1 + std::exp(1.0)), 1e-6);
  EXPECT_EQ(y[2], 0.0);
  EXPECT_NEAR(y[3], 0.5, 1e-7);
  EXPECT_NEAR(x.logsumexp(1).to_vector()[0], 1001 + std::log1p(std::exp(-1.0)), 1e-3);
  const Tensor all_masked = full({1, 3}, -inf);
  EXPECT_EQ(all_masked.logsumexp(1).item<float>(), -inf);
  EXPECT_TRUE(std::isnan(all_masked.softmax(1).to_vector()[0]));
}

TEST(Softmax, Bf16ComputesInF32) {
  const Tensor x = input({4, 33}, 7, kBFloat16);
  const std::vector<double> y = x.softmax(-1).to_vector();
  const std::vector<double> want = x.to(kFloat64).softmax(-1).to_vector();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want[i], 4e-3 * want[i]);
}

TEST(Norm, MatchesNaive) {
  const Tensor x = permuted357(8);
  for (double p : {1.0, 2.0, 3.0, kInf}) {
    expect_reduces_like(x.norm(p), x, {}, gnorm(p), 1e-10);
    expect_reduces_like(x.norm(p, {0, 2}), x, {0, 2}, gnorm(p), 1e-10);
  }
  EXPECT_EQ(x.norm(2, {1}, true).shape(), (Shape{3, 1, 7}));
  EXPECT_THROW(x.norm(-1.0), Error);
}

TEST(Reduce, Gradcheck) {
  // Inputs are viewed through a permutation (non-contiguous) with odd sizes.
  auto perm = [](const Tensor& x) { return strided_view(x, {3, 5, 7}, {5, 1, 15}); };
  const V in = {random_input({7, 3, 5}, 11)};
  EXPECT_TRUE(gradcheck("sum", [&](const V& v) { return perm(v[0]).sum({0, 2}); }, in));
  EXPECT_TRUE(gradcheck("sum", [&](const V& v) { return perm(v[0]).sum(); }, in));
  EXPECT_TRUE(gradcheck("mean", [&](const V& v) { return perm(v[0]).mean({1}, true); }, in));
  EXPECT_TRUE(gradcheck("var", [&](const V& v) { return perm(v[0]).var({0, 2}); }, in));
  EXPECT_TRUE(gradcheck("var", [&](const V& v) { return perm(v[0]).var({1}, 0, true); }, in));
  EXPECT_TRUE(gradcheck("max", [&](const V& v) { return perm(v[0]).max(1).first; }, in));
  EXPECT_TRUE(gradcheck("max", [&](const V& v) { return perm(v[0]).max(); }, in));
  EXPECT_TRUE(gradcheck("min", [&](const V& v) { return perm(v[0]).min(2, true).first; }, in));
  EXPECT_TRUE(gradcheck("min", [&](const V& v) { return perm(v[0]).min(); }, in));
  for (int64_t d : {0, 2}) {
    EXPECT_TRUE(gradcheck("softmax", [&](const V& v) { return perm(v[0]).softmax(d); }, in));
    EXPECT_TRUE(gradcheck("log_softmax", [&](const V& v) { return perm(v[0]).log_softmax(d); }, in));
    EXPECT_TRUE(gradcheck("logsumexp", [&](const V& v) { return perm(v[0]).logsumexp(d); }, in));
  }
  for (double p : {1.0, 2.0, 3.0, kInf}) {
    EXPECT_TRUE(gradcheck("norm", [&](const V& v) { return perm(v[0]).norm(p, {0, 2}); }, in));
  }
  EXPECT_TRUE(gradcheck("norm", [&](const V& v) { return transposed(v[0]).norm(2.0); },
                        {random_input({4, 3}, 12)}));
}

TEST(Reduce, MatchesPyTorchFixture) {
  const testing::Fixture f = testing::load_fixture("reduce");
  const Tensor x = f["x"];  // (3, 4, 5) f32
  EXPECT_TRUE(testing::all_close(x.sum({0, 2}), f["sum_02"], 1e-6, 1e-6));
  EXPECT_TRUE(testing::all_close(x.mean({1}, true), f["mean_1"], 1e-6, 1e-6));
  EXPECT_TRUE(testing::all_close(x.var({2}), f["var_2"], 1e-5, 1e-6));
  EXPECT_TRUE(testing::all_close(x.max(1).first, f["max_1"], 0, 0));
  EXPECT_TRUE(testing::all_close(x.max(1).second, f["argmax_1"], 0, 0));
  EXPECT_TRUE(testing::all_close(x.softmax(-1), f["softmax"], 1e-6, 1e-7));
  EXPECT_TRUE(testing::all_close(x.log_softmax(1), f["log_softmax_1"], 1e-6, 1e-6));
  EXPECT_TRUE(testing::all_close(x.logsumexp(0), f["logsumexp_0"], 1e-6, 1e-6));
  EXPECT_TRUE(testing::all_close(x.norm(2.0), f["norm"], 1e-6, 1e-6));
  EXPECT_TRUE(testing::all_close(x.norm(1.0, {2}), f["norm1_2"], 1e-6, 1e-6));
  Tensor xg = x.clone().requires_grad_();
  xg.softmax(-1).backward(f["dy"]);
  EXPECT_TRUE(testing::all_close(xg.grad(), f["softmax_grad"], 1e-5, 1e-6));
}

}  // namespace
}  // namespace nabla
