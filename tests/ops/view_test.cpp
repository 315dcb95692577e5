// Views: reshape/view, transposes, (un)squeeze, flatten, expand, narrow/select/slice, split/chunk.
// Forward against element-wise index arithmetic, gradcheck, a PyTorch chain fixture, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/view.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using testing::gradcheck;

// f64 tensor with element i = i (row-major), so values name their position.
Tensor iota(const Shape& shape) { return arange(numel_of(shape), kFloat64).reshape(shape); }

// Walks every multi-index of shape.
template <typename Fn>
void for_each_index(const Shape& shape, Fn fn) {
  const int64_t n = numel_of(shape);
  Shape idx(shape.size(), 0);
  for (int64_t k = 0; k < n; ++k) {
    fn(idx);
    for (auto i = static_cast<int64_t>(shape.size()) - 1; i >= 0 && ++idx[i] == shape[i]; --i) {
      idx[i] = 0;
    }
  }
}

TEST(Reshape, ViewsWhenStridesAllow) {
  Tensor x = iota({2, 3, 4});
  Tensor r = x.reshape({6, -1});
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_TRUE(r.is_alias_of(x));
  EXPECT_EQ(r.to_vector(), x.to_vector());
  // A transposed tensor can still split its untouched last dim without copying.
  Tensor t = x.transpose(0, 1);  // (3, 2, 4)
  Tensor m = t.reshape({3, 2, 2, 2});
  EXPECT_TRUE(m.is_alias_of(x));
  for_each_index(m.shape(), [&](const Shape& i) {
    EXPECT_EQ(m.at(i), x.at({i[1], i[0], 2 * i[2] + i[3]}));
  });
  // ... but merging dims 1 and 2 of it needs a copy.
  Tensor c = t.reshape({3, 8});
  EXPECT_FALSE(c.is_alias_of(x));
  for_each_index(c.shape(), [&](const Shape& i) {
    EXPECT_EQ(c.at(i), x.at({i[1] / 4, i[0], i[1] % 4}));
  });
}

TEST(Reshape, CopiesWhenItMust) {
  Tensor x = iota({3, 4});
  Tensor r = x.t().reshape({12});
  EXPECT_FALSE(r.is_alias_of(x));
  for (int64_t k = 0; k < 12; ++k) EXPECT_EQ(r.at({k}), x.at({k % 3, k / 3}));
  EXPECT_THAT([&] { x.t().view({12}); },
              ThrowsMessage<ShapeError>(HasSubstr("not compatible with input tensor's size and stride")));
  EXPECT_THAT([&] { x.t().view({12}); }, ThrowsMessage<ShapeError>(HasSubstr("reshape")));
}

TEST(Reshape, Errors) {
  Tensor x = iota({2, 3});
  EXPECT_THAT([&] { x.reshape({2, 4}); },
              ThrowsMessage<ShapeError>(HasSubstr("reshape: shape '[2, 4]' is invalid for input of size 6")));
  EXPECT_THAT([&] { x.reshape({-1, -1}); },
              ThrowsMessage<ShapeError>(HasSubstr("only one dimension can be inferred")));
  EXPECT_THROW(x.reshape({-1, 4}), ShapeError);
  EXPECT_EQ(x.view({3, 2}).shape(), (Shape{3, 2}));
  EXPECT_EQ(zeros({0, 3}).reshape({-1, 3}).shape(), (Shape{0, 3}));
  EXPECT_EQ(tensor(5.0).reshape({1, 1}).shape(), (Shape{1, 1}));
}

TEST(Transpose, MatchesIndexSwap) {
  Tensor x = iota({2, 3, 5});
  Tensor t = x.transpose(0, -1);
  EXPECT_EQ(t.shape(), (Shape{5, 3, 2}));
  EXPECT_TRUE(t.is_alias_of(x));
  for_each_index(t.shape(), [&](const Shape& i) { EXPECT_EQ(t.at(i), x.at({i[2], i[1], i[0]})); });
  Tensor p = x.permute({1, 2, 0});
  for_each_index(p.shape(), [&](const Shape& i) { EXPECT_EQ(p.at(i), x.at({i[2], i[0], i[1]})); });
  EXPECT_EQ(x.T().shape(), (Shape{5, 3, 2}));
  EXPECT_EQ(x.mT().shape(), (Shape{2, 5, 3}));
  EXPECT_EQ(iota({4}).t().shape(), (Shape{4}));
  EXPECT_EQ(iota({4, 7}).t().shape(), (Shape{7, 4}));
}

TEST(Transpose, Errors) {
  Tensor x = iota({2, 3, 5});
  EXPECT_THAT([&] { x.t(); }, ThrowsMessage<ShapeError>(HasSubstr("<= 2 dimensions")));
  EXPECT_THROW(iota({3}).mT(), ShapeError);
  EXPECT_THAT([&] { x.permute({0, 0, 1}); }, ThrowsMessage<ShapeError>(HasSubstr("repeated dim")));
  EXPECT_THROW(x.permute({0, 1}), ShapeError);
  EXPECT_THROW(x.transpose(0, 3), Error);
}

TEST(Squeeze, UnsqueezeSqueezeFlatten) {
  Tensor x = iota({3, 1, 4});
  EXPECT_EQ(x.unsqueeze(0).shape(), (Shape{1, 3, 1, 4}));
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{3, 1, 4, 1}));
  EXPECT_EQ(x.unsqueeze(1).to_vector(), x.to_vector());
  EXPECT_EQ(x.squeeze().shape(), (Shape{3, 4}));
  EXPECT_EQ(x.squeeze(1).shape(), (Shape{3, 4}));
  EXPECT_EQ(x.squeeze(0).shape(), (Shape{3, 1, 4}));
  EXPECT_TRUE(x.squeeze().is_alias_of(x));
  EXPECT_EQ(iota({2, 3, 4}).flatten().shape(), (Shape{24}));
  EXPECT_EQ(iota({2, 3, 4, 5}).flatten(1, 2).shape(), (Shape{2, 12, 5}));
  EXPECT_EQ(tensor(1.0).flatten().shape(), (Shape{1}));
  EXPECT_THROW(x.unsqueeze(5), Error);
  EXPECT_THROW(iota({2, 3}).flatten(1, 0), ShapeError);
  // The unsqueezed dim of a non-contiguous tensor still reads the right elements.
  Tensor t = iota({3, 4}).t().unsqueeze(1);  // (4, 1, 3)
  for_each_index(t.shape(), [&](const Shape& i) { EXPECT_EQ(t.at(i), 4.0 * i[2] + i[0]); });
}

TEST(Expand, BroadcastsWithZeroStrides) {
  Tensor x = iota({3, 1});
  Tensor e = x.expand({2, -1, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(e.is_alias_of(x));
  for_each_index(e.shape(), [&](const Shape& i) { EXPECT_EQ(e.at(i), x.at({i[1], 0})); });
  EXPECT_EQ(x.expand_as(zeros({5, 3, 7})).shape(), (Shape{5, 3, 7}));
  EXPECT_THAT([&] { x.expand({3, 4}).expand({2, 4}); },
              ThrowsMessage<ShapeError>(HasSubstr("must match the existing size (3) at non-singleton dimension 0")));
  EXPECT_THAT([&] { x.expand({-1, 3, 4}); },
              ThrowsMessage<ShapeError>(HasSubstr("leading, non-existing dimension 0")));
  EXPECT_THROW(x.expand({4}), ShapeError);
}

TEST(Narrow, SelectSliceNarrow) {
  Tensor x = iota({5, 6});
  Tensor n = x.narrow(1, -4, 3);  // columns 2..4
  for_each_index(n.shape(), [&](const Shape& i) { EXPECT_EQ(n.at(i), x.at({i[0], i[1] + 2})); });
  Tensor s = x.select(0, -2);
  EXPECT_EQ(s.shape(), (Shape{6}));
  for (int64_t j = 0; j < 6; ++j) EXPECT_EQ(s.at({j}), x.at({3, j}));
  EXPECT_EQ(x[1].to_vector(), x.select(0, 1).to_vector());
  Tensor sl = x.slice(1, 1, std::nullopt, 2);  // x[:, 1::2]
  EXPECT_EQ(sl.shape(), (Shape{5, 3}));
  for_each_index(sl.shape(), [&](const Shape& i) { EXPECT_EQ(sl.at(i), x.at({i[0], 1 + 2 * i[1]})); });
  EXPECT_EQ(x.slice(0, -100, 100).shape(), (Shape{5, 6}));  // clamped like Python
  EXPECT_EQ(x.slice(0, 4, 2).shape(), (Shape{0, 6}));
  EXPECT_EQ(x.slice(0, -2).shape(), (Shape{2, 6}));
  EXPECT_EQ(x.slice(0, std::nullopt, -1, 3).shape(), (Shape{2, 6}));  // rows 0 and 3
  EXPECT_TRUE(sl.is_alias_of(x));
}

TEST(Narrow, Errors) {
  Tensor x = iota({5, 6});
  EXPECT_THAT([&] { x.select(0, 5); },
              ThrowsMessage<ShapeError>(HasSubstr("select: index 5 is out of bounds for dimension 0 with size 5")));
  EXPECT_THROW(x.select(1, -7), ShapeError);
  EXPECT_THAT([&] { x.narrow(1, 4, 3); }, ThrowsMessage<ShapeError>(HasSubstr("exceeds dimension size (6)")));
  EXPECT_THAT([&] { x.slice(0, 0, 3, 0); }, ThrowsMessage<ShapeError>(HasSubstr("step must be positive")));
  EXPECT_THROW(tensor(1.0).select(0, 0), ShapeError);
}

TEST(Split, SizesAndChunks) {
  Tensor x = iota({7, 2});
  auto parts = x.split(3);
  ASSERT_EQ(parts.size(), 3U);
  EXPECT_EQ(parts[2].shape(), (Shape{1, 2}));
  EXPECT_EQ(parts[1].at({0, 0}), x.at({3, 0}));
  auto sized = split(x, 3, 0);
  EXPECT_EQ(sized.size(), 3U);
  auto custom = x.split(std::vector<int64_t>{2, 0, 5});
  ASSERT_EQ(custom.size(), 3U);
  EXPECT_EQ(custom[1].shape(), (Shape{0, 2}));
  EXPECT_EQ(custom[2].at({0, 1}), x.at({2, 1}));
  EXPECT_THAT([&] { x.split(std::vector<int64_t>{2, 2}); },
              ThrowsMessage<ShapeError>(HasSubstr("sum exactly to 7")));
  auto ch = x.chunk(3);
  ASSERT_EQ(ch.size(), 3U);  // ceil(7 / 3) = 3 rows each: 3, 3, 1
  EXPECT_EQ(ch[2].shape(), (Shape{1, 2}));
  EXPECT_EQ(chunk(x, 2, 1).size(), 2U);
  EXPECT_EQ(iota({6}).chunk(4).size(), 3U);  // like torch: chunks of 2
  EXPECT_THROW(x.chunk(0), ShapeError);
}

TEST(Views, Gradcheck) {
  auto x = testing::random_input({3, 4, 5}, 7);
  auto m = testing::random_input({4, 3}, 8);
  auto col = testing::random_input({3, 1}, 9);
  EXPECT_TRUE(gradcheck("reshape", [](const auto& in) { return in[0].reshape({12, 5}); }, {x}));
  EXPECT_TRUE(gradcheck("reshape", [](const auto& in) { return in[0].t().reshape({-1}); }, {m}));
  EXPECT_TRUE(gradcheck("expand", [](const auto& in) { return in[0].expand({2, 3, 4}); }, {col}));
  EXPECT_TRUE(gradcheck("expand", [](const auto& in) { return in[0].t().expand({3, 3, 4}); }, {m}));
  EXPECT_TRUE(gradcheck("transpose", [](const auto& in) { return in[0].transpose(0, 2); }, {x}));
  EXPECT_TRUE(gradcheck("permute", [](const auto& in) { return in[0].permute({2, 0, 1}); }, {x}));
  EXPECT_TRUE(gradcheck("unsqueeze", [](const auto& in) { return in[0].t().unsqueeze(1); }, {m}));
  EXPECT_TRUE(gradcheck("squeeze", [](const auto& in) { return in[0].squeeze(); }, {col}));
  EXPECT_TRUE(gradcheck("squeeze", [](const auto& in) { return in[0].t().squeeze(0); }, {col}));
  EXPECT_TRUE(gradcheck("narrow", [](const auto& in) { return in[0].narrow(2, 1, 3); }, {x}));
  EXPECT_TRUE(gradcheck("narrow", [](const auto& in) { return in[0].t().narrow(0, 1, 2); }, {m}));
  EXPECT_TRUE(gradcheck("select", [](const auto& in) { return in[0].select(1, -1); }, {x}));
  EXPECT_TRUE(gradcheck("select", [](const auto& in) { return in[0].t()[2]; }, {m}));
  EXPECT_TRUE(gradcheck("slice", [](const auto& in) { return in[0].slice(2, 0, 5, 2); }, {x}));
  EXPECT_TRUE(gradcheck("slice", [](const auto& in) { return in[0].t().slice(1, -3); }, {m}));
}

TEST(Views, SharedInputAccumulatesGradient) {
  // y = x viewed twice: both views' gradients land in x.
  Tensor x = testing::random_input({2, 3}, 3);
  auto parts = x.split(1, 0);
  Tensor y = stack({parts[0].squeeze(0), parts[1].squeeze(0), x.select(0, 0)});
  y.backward(ones({3, 3}, kFloat64));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 2, 2, 1, 1, 1}));
}

TEST(Views, ChainMatchesTorch) {
  auto f = testing::load_fixture("views");
  Tensor x = f["x"].clone().requires_grad_();
  Tensor a = x.permute({2, 0, 1});
  Tensor b = a.slice(0, 1, 6, 2);
  Tensor c = b.select(1, -1);
  Tensor d = c.unsqueeze(0).expand({2, 3, 5});
  Tensor e = d.reshape({6, 5});
  Tensor fi = e.index_select(1, f["idx"]);
  Tensor h = fi.gather(1, f["gidx"]);
  Tensor k = cat({h, e.narrow(0, 1, 2).slice(1, std::nullopt, 3)}, 0);
  Tensor s = stack({k, triu(k, 1), tril(k.t(), -1).t()}, 1);
  Tensor out = s.transpose(0, 2).flatten(1).squeeze();
  EXPECT_TRUE(testing::all_close(out, f["out"], 0, 0));
  out.backward(f["w"]);
  EXPECT_TRUE(testing::all_close(x.grad(), f["grad"], 1e-12, 1e-12));  // sums of a few terms
}

TEST(Views, NoGraphUnderNoGrad) {
  Tensor x = zeros({2, 3}, TensorOptions(kFloat64).requires_grad());
  NoGradGuard guard;
  EXPECT_FALSE(x.t().requires_grad());
  EXPECT_FALSE(x.reshape({6}).requires_grad());
}

}  // namespace
}  // namespace nabla
