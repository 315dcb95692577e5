// rotary_embedding and swiglu: naive double references, gradcheck, PyTorch fixture (Meta's
// complex-number RoPE and F.silu(a) * b), non-contiguous inputs, error paths.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/ops.h"
#include "tests/ops/nn_test_helpers.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using testing::gradcheck;
using testing::random_input;
using testing::vectors_near;

// (T, D/2) cos and sin tables of angle t * theta^(-2i/D), as Llama builds them, in f64. Callers
// copy them out rather than bind them (clang 14 cannot capture structured bindings).
std::pair<Tensor, Tensor> tables(int64_t T, int64_t D) {
  std::vector<double> c, s;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < D / 2; ++i) {
      const double angle = static_cast<double>(t) * std::pow(10000.0, -2.0 * i / D);
      c.push_back(std::cos(angle));
      s.push_back(std::sin(angle));
    }
  }
  return {tensor(c, kFloat64).reshape({T, D / 2}), tensor(s, kFloat64).reshape({T, D / 2})};
}

std::vector<double> rotary_ref(const std::vector<double>& x, const std::vector<double>& c,
                               const std::vector<double>& s, int64_t B, int64_t T, int64_t H,
                               int64_t D) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < B * T * H; ++r) {
    const int64_t t = (r / H) % T;
    for (int64_t i = 0; i < D / 2; ++i) {
      const double x0 = x[r * D + 2 * i], x1 = x[r * D + 2 * i + 1];
      const double ci = c[t * D / 2 + i], si = s[t * D / 2 + i];
      y[r * D + 2 * i] = x0 * ci - x1 * si;
      y[r * D + 2 * i + 1] = x0 * si + x1 * ci;
    }
  }
  return y;
}

TEST(RotaryEmbedding, MatchesReferenceInF32AndOnAView) {
  const int64_t B = 2, T = 5, H = 3, D = 10;
  const auto tables_cs = tables(T, D);
  const Tensor c = tables_cs.first, s = tables_cs.second;
  const Tensor x = random_input({B, T, H, D}, 1, -2, 2, false);
  const auto want = rotary_ref(x.to_vector(), c.to_vector(), s.to_vector(), B, T, H, D);
  EXPECT_TRUE(vectors_near(rotary_embedding(x, c, s).to_vector(), want, 1e-12, 1e-12));
  const Tensor y32 = rotary_embedding(x.to(kFloat32), c.to(kFloat32), s.to(kFloat32));
  EXPECT_EQ(y32.dtype(), kFloat32);
  EXPECT_TRUE(vectors_near(y32.to_vector(), want, 1e-5, 1e-6));
  // (B, H, T, D) transposed to (B, T, H, D): a non-contiguous input.
  const Tensor xt = random_input({B, H, T, D}, 2, -1, 1, false).transpose(1, 2);
  ASSERT_FALSE(xt.is_contiguous());
  EXPECT_TRUE(vectors_near(rotary_embedding(xt, c, s).to_vector(),
                           rotary_ref(xt.to_vector(), c.to_vector(), s.to_vector(), B, T, H, D),
                           1e-12, 1e-12));
}

TEST(RotaryEmbedding, Gradcheck) {
  const auto tables_cs = tables(4, 6);
  const Tensor c = tables_cs.first, s = tables_cs.second;
  EXPECT_TRUE(gradcheck("rotary_embedding",
                        [c, s](const std::vector<Tensor>& in) {
                          return rotary_embedding(in[0], c, s);
                        },
                        {random_input({2, 4, 3, 6}, 3)}));
  EXPECT_TRUE(gradcheck("rotary_embedding",
                        [c, s](const std::vector<Tensor>& in) {
                          return rotary_embedding(in[0].transpose(1, 2), c, s);
                        },
                        {random_input({1, 3, 4, 6}, 4)}));
}

TEST(RotaryEmbedding, MatchesPyTorchComplexRope) {
  const auto f = testing::load_fixture("fused");
  const Tensor x = testing::leaf(f["x"], kFloat32);
  const Tensor y = rotary_embedding(x, f["cos"], f["sin"]);
  EXPECT_TRUE(testing::all_close(y, f["rot"], 1e-5, 1e-6));
  y.backward(f["drot"]);
  EXPECT_TRUE(testing::all_close(x.grad(), f["dx"], 1e-5, 1e-6));
}

TEST(RotaryEmbedding, BadShapesAndTrainableTablesAreErrors) {
  const auto tables_cs = tables(4, 6);
  const Tensor c = tables_cs.first, s = tables_cs.second;
  EXPECT_THAT([&] { rotary_embedding(random_input({2, 5, 3, 6}, 1, -1, 1, false), c, s); },
              ThrowsMessage<ShapeError>(HasSubstr("rotary_embedding: expected input (B, T, H, D)")));
  EXPECT_THAT([&] { rotary_embedding(random_input({4, 3, 6}, 1, -1, 1, false), c, s); },
              ThrowsMessage<ShapeError>(HasSubstr("got input [4, 3, 6]")));
  EXPECT_THAT([&] { rotary_embedding(random_input({1, 4, 3, 6}, 1).to(kFloat32), c, s); },
              ThrowsMessage<DTypeError>(HasSubstr("rotary_embedding")));
  const Tensor ct = c.clone().requires_grad_();
  EXPECT_THAT([&] { rotary_embedding(random_input({1, 4, 3, 6}, 1), ct, s); },
              ThrowsMessage<Error>(HasSubstr("cos and sin are constant tables")));
  const NoGradGuard no_grad;  // outside the graph a table that requires grad is just data
  EXPECT_EQ(rotary_embedding(random_input({1, 4, 3, 6}, 1), ct, s).shape(), Shape({1, 4, 3, 6}));
}

std::vector<double> swiglu_ref(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] / (1.0 + std::exp(-a[i])) * b[i];
  return y;
}

TEST(Swiglu, MatchesReferenceAndTheUnfusedOps) {
  const Tensor a = random_input({6, 45}, 5, -6, 6, false), b = random_input({6, 45}, 6, -2, 2, false);
  EXPECT_TRUE(vectors_near(swiglu(a, b).to_vector(), swiglu_ref(a.to_vector(), b.to_vector()),
                           1e-12, 1e-12));
  const Tensor a32 = a.to(kFloat32), b32 = b.to(kFloat32);
  EXPECT_TRUE(vectors_near(swiglu(a32, b32).to_vector(), swiglu_ref(a.to_vector(), b.to_vector()),
                           1e-5, 1e-6));
  // f32: the same bits as silu(a) * b, so models switching to the fused op keep their results.
  EXPECT_EQ(swiglu(a32, b32).to_vector(), (a32.silu() * b32).to_vector());
  const Tensor at = a.t();  // non-contiguous
  EXPECT_TRUE(vectors_near(swiglu(at, b.t()).to_vector(),
                           swiglu_ref(at.to_vector(), b.t().to_vector()), 1e-12, 1e-12));
}

TEST(Swiglu, Gradcheck) {
  EXPECT_TRUE(gradcheck("swiglu", [](const std::vector<Tensor>& in) { return swiglu(in[0], in[1]); },
                        {random_input({3, 5}, 7, -4, 4), random_input({3, 5}, 8)}));
  EXPECT_TRUE(gradcheck("swiglu",
                        [](const std::vector<Tensor>& in) { return swiglu(in[0].t(), in[1]); },
                        {random_input({5, 3}, 9), random_input({3, 5}, 10)}));
}

TEST(Swiglu, MatchesPyTorch) {
  const auto f = testing::load_fixture("fused");
  const Tensor a = testing::leaf(f["a"], kFloat32), b = testing::leaf(f["b"], kFloat32);
  const Tensor y = swiglu(a, b);
  EXPECT_TRUE(testing::all_close(y, f["swiglu"], 1e-5, 1e-6));
  y.backward(f["ds"]);
  EXPECT_TRUE(testing::all_close(a.grad(), f["da"], 1e-5, 1e-6));
  EXPECT_TRUE(testing::all_close(b.grad(), f["db"], 1e-5, 1e-6));
}

TEST(Swiglu, MismatchedShapesAreErrors) {
  EXPECT_THAT([] { swiglu(random_input({2, 3}, 1), random_input({3, 2}, 2)); },
              ThrowsMessage<ShapeError>(HasSubstr("swiglu: gate [2, 3] and up [3, 2]")));
  EXPECT_THAT([] { swiglu(random_input({2, 3}, 1), random_input({2, 3}, 2).to(kFloat32)); },
              ThrowsMessage<DTypeError>(HasSubstr("swiglu")));
}

}  // namespace
}  // namespace nabla
