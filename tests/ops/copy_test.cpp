// to, clone, contiguous (with gradients) and the in-place writers copy_, zero_, fill_,
// uniform_, normal_.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/ops/creation.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// A transposed view of a 2-D tensor (outside the graph).
Tensor tr(const Tensor& t) {
  return Tensor::make_view(t.storage(), {t.size(1), t.size(0)}, {t.stride(1), t.stride(0)},
                           t.offset(), t.dtype());
}

// Values -3.25, -2.25, ... in row-major order.
Tensor iota(const Shape& shape, DType dtype = kFloat64) {
  Tensor t = Tensor::empty(shape, kFloat64);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = static_cast<double>(i) - 3.25;
  return t.to(dtype);
}

// Naive strided read of t into a row-major vector, independent of copy kernels.
std::vector<double> naive(const Tensor& t) {
  std::vector<double> out;
  Shape idx(static_cast<size_t>(t.dim()), 0);
  for (int64_t n = 0; n < t.numel(); ++n) {
    out.push_back(t.at(idx));
    for (int64_t i = t.dim() - 1; i >= 0 && ++idx[i] == t.size(i); --i) idx[i] = 0;
  }
  return out;
}

TEST(Copy, ToConvertsLikeTorch) {
  Tensor x = tensor({-1.7, 2.5, 0.0, 3.9});
  EXPECT_EQ(x.to(kInt64).to_vector(), (std::vector<double>{-1, 2, 0, 3}));  // truncation
  EXPECT_EQ(x.to(kBool).to_vector(), (std::vector<double>{1, 1, 0, 1}));
  EXPECT_EQ(x.to(kFloat64).dtype(), kFloat64);
  Tensor same = x.to(kFloat32);
  EXPECT_TRUE(same.is_alias_of(x));
  Tensor b = tensor({1.0, 1.00390625, 1.01171875}).to(kBFloat16);  // ties round to even
  EXPECT_EQ(b.to(kFloat32).to_vector(), (std::vector<double>{1.0, 1.0, 1.015625}));
}

TEST(Copy, ToNonContiguous) {
  Tensor x = tr(iota({3, 5}));
  Tensor y = x.to(kFloat32);
  EXPECT_TRUE(y.is_contiguous());
  EXPECT_EQ(y.to_vector(), naive(x));
}

TEST(Copy, ToDevice) {
  Tensor x = zeros({2});
  EXPECT_TRUE(x.to(Device(kCPU)).is_alias_of(x));
  EXPECT_THAT([&] { x.to(Device(kCUDA)); }, ThrowsMessage<DeviceError>(HasSubstr("not available")));
}

TEST(Copy, CloneAndContiguous) {
  Tensor x = iota({4, 3});
  Tensor c = x.clone();
  EXPECT_FALSE(c.is_alias_of(x));
  EXPECT_EQ(c.to_vector(), x.to_vector());
  EXPECT_TRUE(x.contiguous().is_alias_of(x));
  Tensor t = tr(x);
  Tensor tc = t.contiguous();
  EXPECT_TRUE(tc.is_contiguous());
  EXPECT_FALSE(tc.is_alias_of(x));
  EXPECT_EQ(tc.to_vector(), naive(t));
  Tensor ci = tr(iota({2, 3}, kInt64)).clone();
  EXPECT_EQ(ci.dtype(), kInt64);
}

TEST(Copy, TransposedMatricesCopyInTiles) {
  // Odd sizes around the 32-element tile, a batched permute, and a sliced transpose.
  for (const Tensor& t : {iota({37, 45}).t(), iota({2, 3, 33, 70}).permute({1, 0, 3, 2}),
                          iota({40, 65}, kFloat32).t().slice(0, 3, 60, 1).slice(1, 1, 39),
                          iota({5, 2}, kInt64).t()}) {
    Tensor c = t.contiguous();
    EXPECT_TRUE(c.is_contiguous());
    EXPECT_EQ(c.to_vector(), naive(t)) << t.shape();
  }
}

TEST(Copy, Gradcheck) {
  using testing::gradcheck;
  auto x = testing::random_input({3, 4}, 1);
  EXPECT_TRUE(gradcheck("clone", [](const auto& in) { return in[0].clone(); }, {x}));
  EXPECT_TRUE(gradcheck("contiguous", [](const auto& in) { return in[0].contiguous(); }, {x}));
  EXPECT_TRUE(gradcheck("clone", [](const auto& in) { return in[0].t().clone(); }, {x}));
  EXPECT_TRUE(gradcheck("contiguous", [](const auto& in) { return in[0].t().contiguous(); }, {x}));
  // f64 -> f32 -> f64: rounding to f32 (~6e-8 relative) over a step of 2e-2 gives ~3e-6 error.
  testing::GradcheckOptions loose{.eps = 1e-2, .atol = 1e-5, .rtol = 1e-4};
  EXPECT_TRUE(gradcheck(
      "to", [](const auto& in) { return in[0].t().to(kFloat32).to(kFloat64); }, {x}, loose));
}

TEST(Copy, ToIntegerIsNotDifferentiable) {
  Tensor x = tensor({1.5, 2.5}, TensorOptions(kFloat32).requires_grad());
  EXPECT_FALSE(x.to(kInt64).requires_grad());
  EXPECT_TRUE(x.to(kFloat64).requires_grad());
  EXPECT_EQ(x.to(kFloat64).grad_fn()->name, "to");
  EXPECT_EQ(x.clone().grad_fn()->name, "clone");
}

TEST(Copy, CopyBroadcastsAndConverts) {
  Tensor dst = zeros({3, 4}, kFloat64);
  Tensor row = tensor({1, 2, 3, 4});  // int64, broadcast over rows
  const auto v0 = dst.storage()->version();
  dst.copy_(row);
  EXPECT_GT(dst.storage()->version(), v0);
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(dst.at({i, j}), static_cast<double>(j + 1));
  }
  // Into a non-contiguous destination from a non-contiguous source.
  Tensor big = zeros({4, 3});
  Tensor src = iota({3, 4}, kFloat32);
  tr(big).copy_(src);
  EXPECT_EQ(naive(tr(big)), src.to_vector());
  EXPECT_THAT([&] { dst.copy_(zeros({3})); },
              ThrowsMessage<ShapeError>(HasSubstr("must be broadcastable to self's size [3, 4]")));
}

TEST(Copy, CopyFromOverlappingSelf) {
  Tensor x = iota({3, 3});
  const auto expected = naive(tr(x));
  x.copy_(tr(x));
  EXPECT_EQ(x.to_vector(), expected);
}

TEST(Copy, FillAndZero) {
  Tensor x = iota({3, 4});
  tr(x).fill_(2.5);
  for (double v : x.to_vector()) EXPECT_EQ(v, 2.5);
  x.zero_();
  for (double v : x.to_vector()) EXPECT_EQ(v, 0.0);
  Tensor i = zeros({5}, kInt64);
  i.fill_(int64_t{1} << 61);
  EXPECT_EQ(i.data<int64_t>()[4], int64_t{1} << 61);
}

TEST(Copy, InPlaceOnLeafRequiringGradThrows) {
  Tensor w = zeros({3}, TensorOptions().requires_grad());
  EXPECT_THAT([&] { w.zero_(); },
              ThrowsMessage<Error>(HasSubstr("a leaf tensor that requires grad is being used in an in-place operation")));
  EXPECT_THROW(w.copy_(ones({3})), Error);
  NoGradGuard guard;
  w.fill_(3);
  w.normal_();
  EXPECT_EQ(w.numel(), 3);
}

TEST(Copy, UniformAndNormalFill) {
  manual_seed(5);
  Tensor x = zeros({50, 40});
  x.uniform_(-2.0, 3.0);
  double mean = 0;
  for (double v : x.to_vector()) {
    EXPECT_GE(v, -2.0);
    EXPECT_LT(v, 3.0);
    mean += v / 2000.0;
  }
  EXPECT_NEAR(mean, 0.5, 0.15);  // ~4.7 sigma of 5/sqrt(12 * 2000)
  Tensor y = zeros({40, 50}, kFloat64);
  tr(y).normal_(1.0, 0.5);
  double m = 0;
  for (double v : y.to_vector()) m += v / 2000.0;
  EXPECT_NEAR(m, 1.0, 0.05);  // ~4.5 sigma of 0.5/sqrt(2000)
  EXPECT_THROW(zeros({2}, kInt64).uniform_(), DTypeError);
}

}  // namespace
}  // namespace nabla
