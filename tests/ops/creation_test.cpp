// Creation ops: torch.tensor's dtype inference, filled tensors, ranges, random fills.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "nabla/ops/creation.h"
#include "tests/testing/fixture.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

TEST(Creation, NestedListInfersDtypeLikeTorch) {
  auto f = testing::load_fixture("creation");
  Tensor i = tensor({{1, 2}, {3, 4}});
  EXPECT_EQ(i.dtype(), kInt64);
  EXPECT_TRUE(testing::all_close(i, f["tensor_int"], 0, 0));
  Tensor x = tensor({{1, 2.5}, {3, 4}});
  EXPECT_EQ(x.dtype(), kFloat32);
  EXPECT_TRUE(testing::all_close(x, f["tensor_float"], 0, 0));
  Tensor b = tensor({true, false});
  EXPECT_EQ(b.dtype(), kBool);
  EXPECT_TRUE(testing::all_close(b, f["tensor_bool"], 0, 0));
  Tensor bi = tensor({true, 2});
  EXPECT_EQ(bi.dtype(), kInt64);
  EXPECT_TRUE(testing::all_close(bi, f["tensor_bool_int"], 0, 0));
}

TEST(Creation, NestedListScalarAndOptions) {
  Tensor s = tensor(3.5);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.dtype(), kFloat32);
  EXPECT_EQ(s.item<float>(), 3.5F);
  Tensor d = tensor({1, 2, 3}, TensorOptions(kFloat64).requires_grad());
  EXPECT_EQ(d.dtype(), kFloat64);
  EXPECT_TRUE(d.requires_grad());
  EXPECT_EQ(d.to_vector(), (std::vector<double>{1, 2, 3}));
}

TEST(Creation, RaggedListThrows) {
  EXPECT_THAT([] { tensor({{1, 2}, {3}}); },
              ThrowsMessage<ShapeError>(HasSubstr("expected sequence of length 2 at dim 1 (got 1)")));
  EXPECT_THAT([] { tensor({{1, 2}, 3}); }, ThrowsMessage<ShapeError>(HasSubstr("ragged")));
  EXPECT_THAT([] { tensor({1, {2, 3}}); }, ThrowsMessage<ShapeError>(HasSubstr("ragged")));
}

TEST(Creation, FromVectorsKeepsDtype) {
  EXPECT_EQ(tensor(std::vector<float>{1.5F, 2}).dtype(), kFloat32);
  EXPECT_EQ(tensor(std::vector<double>{1.5, 2}).dtype(), kFloat64);
  EXPECT_EQ(tensor(std::vector<int32_t>{1, 2}).dtype(), kInt32);
  Tensor big = tensor(std::vector<int64_t>{int64_t{1} << 60, -7});
  EXPECT_EQ(big.dtype(), kInt64);
  EXPECT_EQ(big.data<int64_t>()[0], int64_t{1} << 60);
  EXPECT_EQ(big.data<int64_t>()[1], -7);
  Tensor conv = tensor(std::vector<float>{1.5F, -2.5F}, kInt64);
  EXPECT_EQ(conv.to_vector(), (std::vector<double>{1, -2}));
}

TEST(Creation, FromBlobSharesMemory) {
  std::vector<float> buf{1, 2, 3, 4, 5, 6};
  Tensor t = from_blob(buf.data(), {2, 3}, kFloat32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.data<float>(), buf.data());
  buf[4] = 9;
  EXPECT_EQ(t.at({1, 1}), 9.0);
}

TEST(Creation, FilledTensors) {
  Tensor z = zeros({2, 3}, kFloat64);
  EXPECT_EQ(z.dtype(), kFloat64);
  for (double v : z.to_vector()) EXPECT_EQ(v, 0.0);
  for (double v : ones({3}, kInt32).to_vector()) EXPECT_EQ(v, 1.0);
  Tensor f = full({2, 2}, 2.5);
  EXPECT_EQ(f.dtype(), kFloat32);
  for (double v : f.to_vector()) EXPECT_EQ(v, 2.5);
  Tensor big = full({2}, int64_t{1} << 62, kInt64);
  EXPECT_EQ(big.data<int64_t>()[1], int64_t{1} << 62);
  EXPECT_TRUE(zeros({2}, TensorOptions().requires_grad()).requires_grad());
  EXPECT_EQ(empty({0, 3}).numel(), 0);
}

TEST(Creation, LikeVariantsCopyShapeAndDtype) {
  Tensor t = zeros({2, 5}, kFloat64);
  EXPECT_EQ(empty_like(t).shape(), t.shape());
  EXPECT_EQ(ones_like(t).dtype(), kFloat64);
  EXPECT_EQ(full_like(t, 7).at({1, 4}), 7.0);
  EXPECT_EQ(zeros_like(t, kInt64).dtype(), kInt64);
  EXPECT_EQ(ones_like(t, kInt32).at({0, 0}), 1.0);
  EXPECT_EQ(rand_like(t).dtype(), kFloat64);
  EXPECT_EQ(randn_like(t).shape(), t.shape());
}

TEST(Creation, ArangeMatchesTorch) {
  auto f = testing::load_fixture("creation");
  Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), kInt64);
  EXPECT_TRUE(testing::all_close(a, f["arange_int"], 0, 0));
  EXPECT_TRUE(testing::all_close(arange(-3, 10, 4), f["arange_int_step"], 0, 0));
  EXPECT_TRUE(testing::all_close(arange(10, -3, -4), f["arange_int_neg"], 0, 0));
  Tensor x = arange(0, 1, 0.1);
  EXPECT_EQ(x.dtype(), kFloat32);
  EXPECT_TRUE(testing::all_close(x, f["arange_float"], 0, 0));
  EXPECT_TRUE(testing::all_close(arange(1.0, 2.35, 0.45), f["arange_float_len"], 0, 0));
  EXPECT_TRUE(testing::all_close(arange(-1.5, 2.0, 0.25, kFloat64), f["arange_f64"], 0, 0));
  EXPECT_EQ(arange(4, kFloat64).dtype(), kFloat64);
}

TEST(Creation, ArangeErrors) {
  EXPECT_THAT([] { arange(0, 5, 0); }, ThrowsMessage<Error>(HasSubstr("step must be nonzero")));
  EXPECT_THAT([] { arange(5, 0, 1); }, ThrowsMessage<Error>(HasSubstr("inconsistent with step sign")));
  EXPECT_EQ(arange(3, 3).numel(), 0);
}

TEST(Creation, LinspaceAndEyeMatchTorch) {
  auto f = testing::load_fixture("creation");
  EXPECT_TRUE(testing::all_close(linspace(-1.0, 3.7, 13), f["linspace_f32"], 0, 0));
  EXPECT_TRUE(testing::all_close(linspace(0.1, 0.9, 7, kFloat64), f["linspace_f64"], 0, 0));
  EXPECT_TRUE(testing::all_close(linspace(2.5, 9.0, 1), f["linspace_one"], 0, 0));
  EXPECT_EQ(linspace(0, 1, 0).numel(), 0);
  EXPECT_THROW(linspace(0, 1, -1), Error);
  EXPECT_TRUE(testing::all_close(eye(4), f["eye"], 0, 0));
  EXPECT_TRUE(testing::all_close(eye(3, kInt64), f["eye_i64"], 0, 0));
}

TEST(Creation, RandIsUniformInUnitInterval) {
  manual_seed(7);
  Tensor r = rand({10000});
  const auto v = r.to_vector();
  double mean = 0;
  for (double x : v) {
    EXPECT_GE(x, 0.0);
    EXPECT_LT(x, 1.0);
    mean += x / static_cast<double>(v.size());
  }
  EXPECT_NEAR(mean, 0.5, 0.02);  // 4 sigma of 1/sqrt(12 * 10000)
  Tensor r64 = rand({1000}, kFloat64);
  for (double x : r64.to_vector()) {
    EXPECT_GE(x, 0.0);
    EXPECT_LT(x, 1.0);
  }
  EXPECT_THROW(rand({2}, kInt64), DTypeError);
}

TEST(Creation, RandnHasUnitMoments) {
  manual_seed(3);
  const auto v = randn({20000}, kFloat64).to_vector();
  double mean = 0, sq = 0;
  for (double x : v) {
    mean += x;
    sq += x * x;
  }
  mean /= static_cast<double>(v.size());
  sq /= static_cast<double>(v.size());
  EXPECT_NEAR(mean, 0.0, 0.03);       // ~4 sigma of 1/sqrt(20000)
  EXPECT_NEAR(sq - mean * mean, 1.0, 0.04);
  EXPECT_EQ(randn({3, 3}, kBFloat16).dtype(), kBFloat16);
}

TEST(Creation, SameSeedSameValuesAndStreamAdvances) {
  manual_seed(42);
  const auto a = rand({7, 3}).to_vector();
  const auto b = rand({7, 3}).to_vector();
  manual_seed(42);
  EXPECT_EQ(rand({7, 3}).to_vector(), a);
  EXPECT_EQ(rand({7, 3}).to_vector(), b);
  EXPECT_NE(a, b);
  Generator g(5);
  const auto x = randn({11}, {}, &g).to_vector();
  Generator g2(5);
  EXPECT_EQ(randn({11}, {}, &g2).to_vector(), x);
}

TEST(Creation, RandintInRange) {
  manual_seed(1);
  Tensor r = randint(-3, 4, {1000});
  EXPECT_EQ(r.dtype(), kInt64);
  std::vector<int> counts(7, 0);
  for (double x : r.to_vector()) {
    ASSERT_GE(x, -3);
    ASSERT_LT(x, 4);
    ++counts[static_cast<size_t>(x + 3)];
  }
  for (int c : counts) EXPECT_GT(c, 80);  // expected 143 each
  EXPECT_EQ(randint(0, 5, {4}, kInt32).dtype(), kInt32);
  EXPECT_THAT([] { randint(3, 3, {2}); }, ThrowsMessage<Error>(HasSubstr("low < high")));
}

TEST(Creation, RandpermIsAPermutation) {
  manual_seed(9);
  const auto p = randperm(50).to_vector();
  std::vector<double> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], static_cast<double>(i));
  std::vector<double> identity(sorted);
  EXPECT_NE(p, identity);
  EXPECT_EQ(randperm(0).numel(), 0);
}

}  // namespace
}  // namespace nabla
