// index_select, gather, cat, stack, tril, triu: forward against naive loops (odd sizes,
// non-contiguous inputs), gradcheck, deterministic scatter-add with repeated indices, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/threads.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/view.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using testing::gradcheck;

Tensor iota(const Shape& shape, DType dtype = kFloat64) {
  return arange(numel_of(shape), dtype).reshape(shape);
}

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

TEST(IndexSelect, MatchesNaive) {
  Tensor x = iota({5, 7, 3}).transpose(0, 1);  // (7, 5, 3), non-contiguous
  Tensor idx = tensor({4, -1, 0, 4});
  Tensor y = x.index_select(1, idx);
  ASSERT_EQ(y.shape(), (Shape{7, 4, 3}));
  const int64_t map[] = {4, 4, 0, 4};
  for_each_index(y.shape(), [&](const Shape& i) { EXPECT_EQ(y.at(i), x.at({i[0], map[i[1]], i[2]})); });
  Tensor rows = index_select(iota({6, 5}, kInt64), 0, tensor(std::vector<int32_t>{5, 2}));
  EXPECT_EQ(rows.dtype(), kInt64);
  EXPECT_EQ(rows.at({0, 3}), 28.0);
}

TEST(IndexSelect, Errors) {
  Tensor x = iota({5, 2});
  EXPECT_THAT([&] { x.index_select(0, tensor({1, 7})); },
              ThrowsMessage<ShapeError>(HasSubstr("index_select: index 7 is out of bounds for dimension 0 with size 5")));
  EXPECT_THROW(x.index_select(0, tensor({1.0, 2.0})), DTypeError);
  EXPECT_THROW(x.index_select(0, tensor({{1, 2}})), ShapeError);
  EXPECT_THROW(x.index_select(2, tensor({0})), Error);
}

TEST(Gather, MatchesNaive) {
  Tensor x = iota({4, 6}).t();  // (6, 4) non-contiguous
  Tensor idx = tensor({{0, 5, 5}, {1, 1, 2}, {3, 0, 4}});
  Tensor y = x.gather(0, idx);
  ASSERT_EQ(y.shape(), (Shape{3, 3}));
  for_each_index(y.shape(), [&](const Shape& i) {
    EXPECT_EQ(y.at(i), x.at({static_cast<int64_t>(idx.at(i)), i[1]}));
  });
  Tensor z = x.gather(-1, tensor({{3}, {-4}}));
  EXPECT_EQ(z.at({0, 0}), x.at({0, 3}));
  EXPECT_EQ(z.at({1, 0}), x.at({1, 0}));
}

TEST(Gather, Errors) {
  Tensor x = iota({3, 4});
  EXPECT_THAT([&] { x.gather(1, tensor({{0, 4}})); },
              ThrowsMessage<ShapeError>(HasSubstr("gather: index 4 is out of bounds for dimension 1 with size 4")));
  EXPECT_THROW(x.gather(1, tensor({0, 1})), ShapeError);
  EXPECT_THROW(x.gather(0, zeros({2, 5}, kInt64)), ShapeError);
  EXPECT_EQ(x.gather(0, zeros({5, 1}, kInt64)).shape(), (Shape{5, 1}));  // like torch
}

TEST(Cat, MatchesNaiveAndPromotes) {
  Tensor a = iota({2, 3, 4});
  Tensor b = iota({4, 3, 2}).transpose(0, 2);  // (2, 3, 4) non-contiguous
  Tensor c = iota({2, 1, 4});
  Tensor y = cat({a, b.narrow(1, 0, 2), c}, 1);
  ASSERT_EQ(y.shape(), (Shape{2, 6, 4}));
  for_each_index(y.shape(), [&](const Shape& i) {
    const double expected = i[1] < 3   ? a.at(i)
                            : i[1] < 5 ? b.at({i[0], i[1] - 3, i[2]})
                                       : c.at({i[0], 0, i[2]});
    EXPECT_EQ(y.at(i), expected);
  });
  Tensor mixed = cat({iota({2}, kInt64), iota({3}, kFloat32)});
  EXPECT_EQ(mixed.dtype(), kFloat32);
  EXPECT_EQ(mixed.to_vector(), (std::vector<double>{0, 1, 0, 1, 2}));
  EXPECT_EQ(cat({zeros({0}), iota({2, 2})}).shape(), (Shape{2, 2}));  // legacy empty skip
}

TEST(Cat, Errors) {
  EXPECT_THAT([] { cat({iota({2, 3}), iota({2, 4})}, 0); },
              ThrowsMessage<ShapeError>(HasSubstr("sizes of tensors must match except in dimension 0")));
  EXPECT_THROW(cat({}), ShapeError);
  EXPECT_THROW(cat({iota({2}), iota({2, 1})}), ShapeError);
  EXPECT_THAT([] { stack({iota({2}), iota({3})}); },
              ThrowsMessage<ShapeError>(HasSubstr("stack: expects each tensor to be equal size")));
}

TEST(Stack, MatchesNaive) {
  Tensor a = iota({3, 2});
  Tensor b = iota({2, 3}).t();
  Tensor y = stack({a, b}, -1);
  ASSERT_EQ(y.shape(), (Shape{3, 2, 2}));
  for_each_index(y.shape(), [&](const Shape& i) {
    EXPECT_EQ(y.at(i), (i[2] == 0 ? a : b).at({i[0], i[1]}));
  });
  EXPECT_EQ(stack({a, b}).shape(), (Shape{2, 3, 2}));
}

TEST(Triangle, MatchesNaive) {
  Tensor x = iota({2, 5, 4}).transpose(1, 2);  // (2, 4, 5) non-contiguous
  for (int64_t diag : {-2, 0, 1, 6}) {
    Tensor lo = tril(x, diag), up = triu(x, diag);
    for_each_index(x.shape(), [&](const Shape& i) {
      EXPECT_EQ(lo.at(i), i[2] - i[1] <= diag ? x.at(i) : 0.0);
      EXPECT_EQ(up.at(i), i[2] - i[1] >= diag ? x.at(i) : 0.0);
    });
  }
  EXPECT_EQ(tril(ones({3, 3}, kBool)).to_vector(), (std::vector<double>{1, 0, 0, 1, 1, 0, 1, 1, 1}));
  EXPECT_THROW(tril(iota({3})), ShapeError);
}

TEST(Index, Gradcheck) {
  auto x = testing::random_input({5, 4}, 11);
  auto y = testing::random_input({3, 4}, 12);
  Tensor rep = tensor({3, 0, 3, 3, -1});
  Tensor gidx = tensor({{0, 4, 4}, {2, 2, 1}});
  EXPECT_TRUE(gradcheck("index_select", [&](const auto& in) { return in[0].index_select(0, rep); }, {x}));
  EXPECT_TRUE(gradcheck("index_select", [&](const auto& in) { return in[0].t().index_select(1, rep); }, {x}));
  EXPECT_TRUE(gradcheck("gather", [&](const auto& in) { return in[0].gather(0, gidx); }, {x}));
  EXPECT_TRUE(gradcheck("gather", [&](const auto& in) { return in[0].t().gather(1, gidx.slice(1, 0, 2)); }, {x}));
  EXPECT_TRUE(gradcheck("cat", [](const auto& in) { return cat({in[0], in[1], in[0]}, 0); }, {x, y}));
  EXPECT_TRUE(gradcheck("cat", [](const auto& in) { return cat({in[0].t(), in[1].t()}, 1); }, {x, y}));
  EXPECT_TRUE(gradcheck("stack", [](const auto& in) { return stack({in[0].narrow(0, 0, 3), in[1]}, 1); }, {x, y}));
  EXPECT_TRUE(gradcheck("tril", [](const auto& in) { return tril(in[0], -1); }, {x}));
  EXPECT_TRUE(gradcheck("triu", [](const auto& in) { return triu(in[0].t(), 1); }, {x}));
}

TEST(Index, ScatterAddIsDeterministicAcrossThreads) {
  // 40K rows gathered from 3 with heavy repetition: the backward sums must not depend on the
  // thread count.
  const int before = get_num_threads();
  Tensor idx = randint(0, 3, {40000}, kInt64);
  auto grad_with = [&](int threads) {
    set_num_threads(threads);
    Tensor w = rand({3, 8}, kFloat32, nullptr).requires_grad_();
    Generator g(1);
    Tensor dy = rand({40000, 8}, kFloat32, &g);
    w.index_select(0, idx).backward(dy);
    return w.grad().to_vector();
  };
  manual_seed(4);
  const auto one = grad_with(1);
  manual_seed(4);
  const auto two = grad_with(2);
  set_num_threads(before);
  EXPECT_EQ(one, two);
}

}  // namespace
}  // namespace nabla
