// matmul and linear: forward against a naive double loop (odd sizes, transposed and batched
// broadcast operands, 1-D promotion, every dtype), gradcheck, a PyTorch fixture, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/ops/creation.h"
#include "nabla/ops/matmul.h"
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

// Element of t at a (possibly longer) broadcast batch index, then the two matrix indices.
double elem(const Tensor& t, const Shape& batch_idx, int64_t r, int64_t c) {
  Shape idx;
  const int64_t tb = t.dim() - 2;
  for (int64_t i = 0; i < tb; ++i) {
    const int64_t bi = batch_idx[batch_idx.size() - static_cast<size_t>(tb) + static_cast<size_t>(i)];
    idx.push_back(t.size(i) == 1 ? 0 : bi);
  }
  idx.push_back(r);
  idx.push_back(c);
  return t.at(idx);
}

// torch.matmul by definition: promote 1-D operands, broadcast batch dims, triple loop.
std::vector<double> naive_matmul(const Tensor& a0, const Tensor& b0, Shape* out_shape) {
  auto promote = [](const Tensor& t, bool left) {
    if (t.dim() != 1) return t;
    const int64_t n = t.size(0), s = t.stride(0);
    return left ? Tensor::make_view(t.storage(), {1, n}, {n * s, s}, t.offset(), t.dtype())
                : Tensor::make_view(t.storage(), {n, 1}, {s, 1}, t.offset(), t.dtype());
  };
  const Tensor a = promote(a0, true), b = promote(b0, false);
  const Shape batch = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                       Shape(b.shape().begin(), b.shape().end() - 2), "ref");
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  *out_shape = batch;
  if (a0.dim() > 1) out_shape->push_back(M);
  if (b0.dim() > 1) out_shape->push_back(N);
  std::vector<double> out;
  Shape bi(batch.size(), 0);
  for (int64_t n = 0; n < numel_of(batch); ++n) {
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += elem(a, bi, i, k) * elem(b, bi, k, j);
        out.push_back(acc);
      }
    }
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0 && ++bi[d] == batch[d]; --d) bi[d] = 0;
  }
  return out;
}

void expect_matches_naive(const Tensor& a, const Tensor& b, double tol) {
  Shape shape;
  const std::vector<double> want = naive_matmul(a, b, &shape);
  const Tensor y = matmul(a, b);
  ASSERT_EQ(y.shape(), shape) << a.shape() << " @ " << b.shape();
  EXPECT_EQ(y.dtype(), a.dtype());
  const std::vector<double> got = y.to_vector();
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << a.shape() << " @ " << b.shape();
  }
}

Tensor input(const Shape& shape, uint64_t seed, DType dtype = kFloat64) {
  return random_input(shape, seed, -1, 1, false).to(dtype);
}

TEST(Matmul, MatchesNaiveOddSizes2D) {
  for (DType dt : {kFloat32, kFloat64}) {
    expect_matches_naive(input({7, 13}, 1, dt), input({13, 5}, 2, dt), 1e-5);
    expect_matches_naive(input({1, 3}, 3, dt), input({3, 1}, 4, dt), 1e-5);
  }
}

TEST(Matmul, TransposedAndSlicedOperands) {
  const Tensor a = input({13, 7}, 5), b = input({5, 13}, 6);
  const Tensor at = Tensor::make_view(a.storage(), {7, 13}, {1, 7}, 0, kFloat64);
  const Tensor bt = Tensor::make_view(b.storage(), {13, 5}, {1, 13}, 0, kFloat64);
  expect_matches_naive(at, bt, 1e-12);
  // Every other column of a wider matrix: no unit stride, so it is copied.
  const Tensor w = input({7, 26}, 7);
  expect_matches_naive(Tensor::make_view(w.storage(), {7, 13}, {26, 2}, 1, kFloat64), bt, 1e-12);
}

TEST(Matmul, OneDimensionalOperands) {
  expect_matches_naive(input({9}, 8), input({9}, 9), 1e-12);         // dot -> 0-d
  expect_matches_naive(input({9}, 10), input({9, 4}, 11), 1e-12);    // [9] @ [9, 4] -> [4]
  expect_matches_naive(input({4, 9}, 12), input({9}, 13), 1e-12);    // -> [4]
  expect_matches_naive(input({2, 4, 9}, 14), input({9}, 15), 1e-12);  // -> [2, 4]
  expect_matches_naive(input({9}, 16), input({3, 9, 2}, 17), 1e-12);   // -> [3, 2]
}

TEST(Matmul, BatchedWithBroadcast) {
  expect_matches_naive(input({2, 3, 4, 5}, 18), input({2, 3, 5, 6}, 19), 1e-12);
  expect_matches_naive(input({2, 1, 4, 5}, 20), input({3, 5, 6}, 21), 1e-12);
  expect_matches_naive(input({3, 4, 5}, 22), input({5, 6}, 23), 1e-12);   // folds into one GEMM
  expect_matches_naive(input({4, 5}, 24), input({3, 5, 6}, 25), 1e-12);
  // Batch dims that no single stride describes: a permuted batch.
  const Tensor a = input({3, 2, 4, 5}, 26);
  const Tensor ap = Tensor::make_view(a.storage(), {2, 3, 4, 5}, {20, 40, 5, 1}, 0, kFloat64);
  expect_matches_naive(ap, input({2, 3, 5, 6}, 27), 1e-12);
}

TEST(Matmul, Bf16GivesBf16WithF32Accumulation) {
  const Tensor a = input({5, 40}, 28, kBFloat16), b = input({40, 3}, 29, kBFloat16);
  expect_matches_naive(a, b, 1e-2);  // one bf16 rounding of the result: 2^-8 relative
  expect_matches_naive(input({2, 5, 40}, 30, kBFloat16), b, 1e-2);
}

TEST(Matmul, ErrorsNameShapesAndDtypes) {
  EXPECT_THAT([] { matmul(input({4, 768}, 1, kFloat32), input({512, 768}, 2, kFloat32)); },
              ThrowsMessage<ShapeError>(
                  HasSubstr("matmul: shapes [4, 768] and [512, 768] cannot be multiplied (768 != 512)")));
  EXPECT_THAT([] { matmul(input({2, 3}, 1, kFloat32), input({3, 2}, 2, kBFloat16)); },
              ThrowsMessage<DTypeError>(HasSubstr(
                  "matmul: expected both operands to have the same dtype, got torch.float32")));
  EXPECT_THROW(matmul(Tensor::empty({}, kFloat32), input({3}, 1, kFloat32)), ShapeError);
  EXPECT_THROW(matmul(Tensor::empty({2, 2}, kInt64), Tensor::empty({2, 2}, kInt64)), DTypeError);
  EXPECT_THROW(matmul(input({2, 3, 4}, 1), input({3, 4, 2}, 2)), ShapeError);  // batch 2 vs 3
}

TEST(Matmul, Gradcheck) {
  using V = std::vector<Tensor>;
  EXPECT_TRUE(gradcheck("matmul", [](const V& v) { return matmul(v[0], v[1]); },
                        {random_input({3, 5}, 1), random_input({5, 4}, 2)}));
  EXPECT_TRUE(gradcheck("matmul", [](const V& v) { return matmul(transposed(v[0]), transposed(v[1])); },
                        {random_input({5, 3}, 3), random_input({4, 5}, 4)}));
  EXPECT_TRUE(gradcheck("matmul", [](const V& v) { return matmul(v[0], v[1]); },
                        {random_input({2, 1, 3, 5}, 5), random_input({3, 5, 2}, 6)}));
  EXPECT_TRUE(gradcheck("matmul", [](const V& v) { return matmul(v[0], v[1]); },
                        {random_input({2, 3, 5}, 7), random_input({5, 4}, 8)}));
  EXPECT_TRUE(gradcheck("matmul", [](const V& v) { return matmul(v[0], v[1]); },
                        {random_input({5}, 9), random_input({5}, 10)}));
  EXPECT_TRUE(gradcheck("matmul", [](const V& v) { return matmul(v[0], v[1]); },
                        {random_input({5}, 11), random_input({2, 5, 3}, 12)}));
}

// linear against x W^T + b by definition.
void expect_linear_matches(const Tensor& x, const Tensor& w, const Tensor& b, double tol) {
  const Tensor y = linear(x, w, b);
  Shape shape = x.shape();
  shape.back() = w.size(0);
  ASSERT_EQ(y.shape(), shape);
  const std::vector<double> xv = x.to_vector(), got = y.to_vector();
  const int64_t in = w.size(1), rows = x.numel() / in;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < w.size(0); ++o) {
      double acc = b.defined() ? b.at({o}) : 0.0;
      for (int64_t i = 0; i < in; ++i) acc += xv[static_cast<size_t>(r * in + i)] * w.at({o, i});
      ASSERT_NEAR(got[static_cast<size_t>(r * w.size(0) + o)], acc, tol * (1 + std::abs(acc)));
    }
  }
}

TEST(Linear, MatchesNaive) {
  for (DType dt : {kFloat32, kFloat64}) {
    expect_linear_matches(input({7, 11}, 1, dt), input({5, 11}, 2, dt), input({5}, 3, dt), 1e-5);
    expect_linear_matches(input({2, 3, 11}, 4, dt), input({5, 11}, 5, dt), Tensor(), 1e-5);
    expect_linear_matches(input({11}, 6, dt), input({5, 11}, 7, dt), input({5}, 8, dt), 1e-5);
  }
  expect_linear_matches(input({3, 11}, 9, kBFloat16), input({5, 11}, 10, kBFloat16),
                        input({5}, 11, kBFloat16), 1e-2);
  // A weight stored transposed (a view of an (in, out) matrix).
  const Tensor wt = input({11, 5}, 12);
  expect_linear_matches(input({4, 11}, 13),
                        Tensor::make_view(wt.storage(), {5, 11}, {1, 5}, 0, kFloat64),
                        input({5}, 14), 1e-12);
}

TEST(Linear, ErrorsNameShapes) {
  EXPECT_THAT([] { linear(input({4, 768}, 1), input({512, 769}, 2)); },
              ThrowsMessage<ShapeError>(HasSubstr("linear: input [4, 768] and weight [512, 769] "
                                                  "cannot be multiplied (768 != 769)")));
  EXPECT_THROW(linear(input({4, 3}, 1), input({2, 3}, 2), input({3}, 3)), ShapeError);
  EXPECT_THROW(linear(input({4, 3}, 1), input({2, 3}, 2, kFloat32)), DTypeError);
}

TEST(Linear, Gradcheck) {
  using V = std::vector<Tensor>;
  EXPECT_TRUE(gradcheck("linear", [](const V& v) { return linear(v[0], v[1], v[2]); },
                        {random_input({4, 3}, 1), random_input({5, 3}, 2), random_input({5}, 3)}));
  EXPECT_TRUE(gradcheck("linear", [](const V& v) { return linear(v[0], v[1]); },
                        {random_input({2, 3, 4}, 4), random_input({5, 4}, 5)}));
  // Non-contiguous input and weight.
  EXPECT_TRUE(gradcheck("linear",
                        [](const V& v) { return linear(transposed(v[0]), transposed(v[1]), v[2]); },
                        {random_input({3, 4}, 6), random_input({3, 5}, 7), random_input({5}, 8)}));
  EXPECT_TRUE(gradcheck("linear", [](const V& v) { return linear(v[0], v[1], v[2]); },
                        {random_input({3}, 9), random_input({2, 3}, 10), random_input({2}, 11)}));
}

TEST(Linear, Bf16BackwardGivesBf16Grads) {
  Tensor x = input({6, 8}, 1, kBFloat16).requires_grad_();
  Tensor w = input({4, 8}, 2, kBFloat16).requires_grad_();
  Tensor b = input({4}, 3, kBFloat16).requires_grad_();
  const Tensor y = linear(x, w, b);
  y.backward(Tensor::empty(y.shape(), kBFloat16).fill_(1.0));
  EXPECT_EQ(w.grad().dtype(), kBFloat16);
  EXPECT_EQ(x.grad().shape(), x.shape());
  // db = column sums of ones = number of rows.
  for (double v : b.grad().to_vector()) EXPECT_EQ(v, 6.0);
}

TEST(Matmul, MatchesPyTorchFixture) {
  const testing::Fixture f = testing::load_fixture("matmul");
  EXPECT_TRUE(testing::all_close(matmul(f["a"], f["b"]), f["ab"], 1e-5, 1e-6));
  Tensor x = f["x"].clone().requires_grad_();
  Tensor w = f["w"].clone().requires_grad_();
  Tensor b = f["bias"].clone().requires_grad_();
  const Tensor y = linear(x, w, b);
  EXPECT_TRUE(testing::all_close(y, f["y"], 1e-5, 1e-6));
  y.backward(f["dy"]);
  EXPECT_TRUE(testing::all_close(x.grad(), f["dx"], 1e-5, 1e-6));
  EXPECT_TRUE(testing::all_close(w.grad(), f["dw"], 1e-5, 1e-6));
  EXPECT_TRUE(testing::all_close(b.grad(), f["db"], 1e-5, 1e-6));
}

}  // namespace
}  // namespace nabla
