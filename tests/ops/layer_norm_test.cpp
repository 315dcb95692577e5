// layer_norm: naive double reference (odd sizes, non-contiguous input, optional affine),
// gradcheck, PyTorch fixture, bf16, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/core/threads.h"
#include "nabla/ops/ops.h"
#include "tests/ops/nn_test_helpers.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using testing::gradcheck;
using testing::random_input;
using testing::vectors_near;

// Rows of x (N, C); w, b empty for no affine.
std::vector<double> layer_norm_ref(const std::vector<double>& x, const std::vector<double>& w,
                                   const std::vector<double>& b, size_t C, double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / C; ++r) {
    double mean = 0, var = 0;
    for (size_t c = 0; c < C; ++c) mean += x[r * C + c] / static_cast<double>(C);
    for (size_t c = 0; c < C; ++c) var += std::pow(x[r * C + c] - mean, 2) / static_cast<double>(C);
    for (size_t c = 0; c < C; ++c) {
      const double v = (x[r * C + c] - mean) / std::sqrt(var + eps);
      y[r * C + c] = v * (w.empty() ? 1.0 : w[c]) + (b.empty() ? 0.0 : b[c]);
    }
  }
  return y;
}

TEST(LayerNorm, MatchesReferenceOddSizes) {
  const Tensor x = random_input({3, 5, 13}, 1, -2, 3, false).to(kFloat32);
  const Tensor w = random_input({13}, 2, false).to(kFloat32);
  const Tensor b = random_input({13}, 3, false).to(kFloat32);
  const Tensor y = layer_norm(x, w, b, 1e-5);
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_EQ(y.dtype(), kFloat32);
  // f32 arithmetic against a double reference over 13 elements
  EXPECT_TRUE(vectors_near(y.to_vector(),
                           layer_norm_ref(x.to_vector(), w.to_vector(), b.to_vector(), 13, 1e-5),
                           1e-5, 1e-5));
}

TEST(LayerNorm, NonContiguousInputWithoutAffine) {
  const Tensor base = random_input({11, 6}, 4, -1, 1, false);
  const Tensor x = base.t();  // (6, 11), strides (1, 6)
  ASSERT_FALSE(x.is_contiguous());
  const Tensor y = layer_norm(x, Tensor(), Tensor(), 1e-3);
  EXPECT_TRUE(vectors_near(y.to_vector(), layer_norm_ref(x.to_vector(), {}, {}, 11, 1e-3), 1e-12,
                           1e-12));
}

TEST(LayerNorm, Gradcheck) {
  const Tensor x = random_input({4, 7}, 5), w = random_input({7}, 6), b = random_input({7}, 7);
  EXPECT_TRUE(gradcheck("layer_norm",
                        [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); },
                        {x, w, b}));
  // non-contiguous input: the (7, 4) leaf transposed
  const Tensor xt = random_input({7, 4}, 8);
  EXPECT_TRUE(gradcheck(
      "layer_norm",
      [](const std::vector<Tensor>& in) { return layer_norm(in[0].t(), in[1], Tensor()); },
      {xt, random_input({7}, 9)}));
  EXPECT_TRUE(gradcheck(
      "layer_norm", [](const std::vector<Tensor>& in) { return layer_norm(in[0], Tensor(), Tensor()); },
      {random_input({3, 2, 5}, 10)}));
}

TEST(LayerNorm, MatchesPyTorch) {
  const auto fx = testing::load_fixture("nn_layer_norm");
  const Tensor x = testing::leaf(fx["x"], kFloat32), w = testing::leaf(fx["w"], kFloat32);
  const Tensor b = testing::leaf(fx["b"], kFloat32);
  const Tensor y = layer_norm(x, w, b, fx.meta["eps"].get<double>());
  EXPECT_TRUE(testing::all_close(y, fx["out"], 1e-5, 1e-5));
  y.backward(fx["dy"]);
  EXPECT_TRUE(testing::all_close(x.grad(), fx["dx"], 1e-4, 1e-5));
  EXPECT_TRUE(testing::all_close(w.grad(), fx["dw"], 1e-4, 1e-5));
  EXPECT_TRUE(testing::all_close(b.grad(), fx["db"], 1e-4, 1e-5));
}

TEST(LayerNorm, BFloat16ComputesInF32) {
  const Tensor x = random_input({4, 33}, 11, -3, 3, false).to(kBFloat16);
  const Tensor w = random_input({33}, 12, false).to(kBFloat16);
  const Tensor y = layer_norm(x, w, Tensor());
  EXPECT_EQ(y.dtype(), kBFloat16);
  const Tensor ref = layer_norm(x.to(kFloat32), w.to(kFloat32), Tensor());
  // one bf16 rounding of the output: relative 2^-8
  EXPECT_TRUE(testing::all_close(y, ref, 8e-3, 1e-3));
}

TEST(LayerNorm, LargeInputIsDeterministicAcrossThreadCounts) {
  const Tensor x = random_input({700, 96}, 13, -2, 2, false).to(kFloat32);  // parallel path
  const Tensor dy = random_input({700, 96}, 14, -1, 1, false).to(kFloat32);
  const Tensor w0 = random_input({96}, 15, false).to(kFloat32), b0 = random_input({96}, 16, false).to(kFloat32);
  auto run = [&](int threads) {
    const int prev = get_num_threads();
    set_num_threads(threads);
    const Tensor xl = testing::leaf(x, kFloat32), w = testing::leaf(w0, kFloat32);
    const Tensor b = testing::leaf(b0, kFloat32);
    const Tensor y = layer_norm(xl, w, b);
    y.backward(dy);
    set_num_threads(prev);
    return std::vector<std::vector<double>>{y.to_vector(), xl.grad().to_vector(),
                                            w.grad().to_vector(), b.grad().to_vector()};
  };
  const auto one = run(1), two = run(2);
  EXPECT_EQ(one, two);
  EXPECT_TRUE(vectors_near(one[0], layer_norm_ref(x.to_vector(), w0.to_vector(), b0.to_vector(), 96, 1e-5),
                           1e-5, 1e-5));
}

TEST(LayerNorm, BFloat16BackwardMatchesF32) {
  const Tensor x = random_input({5, 24}, 17, -2, 2, false).to(kBFloat16);
  const Tensor w = random_input({24}, 18, false).to(kBFloat16);
  const Tensor dy = random_input({5, 24}, 19, -1, 1, false).to(kBFloat16);
  const Tensor xb = testing::leaf(x, kBFloat16), wb = testing::leaf(w, kBFloat16);
  const Tensor xf = testing::leaf(x, kFloat32), wf = testing::leaf(w, kFloat32);
  layer_norm(xb, wb, Tensor()).backward(dy);
  layer_norm(xf, wf, Tensor()).backward(dy.to(kFloat32));
  // f32 arithmetic in both; bf16 stores each gradient with one rounding (2^-8 relative)
  EXPECT_TRUE(testing::all_close(xb.grad(), xf.grad(), 8e-3, 1e-3));
  EXPECT_TRUE(testing::all_close(wb.grad(), wf.grad(), 8e-3, 1e-3));
}

TEST(LayerNorm, RejectsMismatchedWeight) {
  const Tensor x = random_input({2, 5}, 1, -1, 1, false);
  EXPECT_THAT([&] { layer_norm(x, random_input({4}, 2, -1, 1, false), Tensor()); },
              ::testing::ThrowsMessage<ShapeError>(HasSubstr("layer_norm: weight [4]")));
  EXPECT_THAT([&] { layer_norm(x, random_input({5}, 2, -1, 1, false).to(kFloat32), Tensor()); },
              ::testing::ThrowsMessage<DTypeError>(HasSubstr("layer_norm")));
}

}  // namespace
}  // namespace nabla
