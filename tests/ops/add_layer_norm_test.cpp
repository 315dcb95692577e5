// add_layer_norm (the residual add fused with the layer norm that reads it): the same bits as
// the separate add and layer_norm in f32 and bf16, forward and backward; a naive double
// reference; gradcheck through both outputs; PyTorch fixture; errors.
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

using testing::gradcheck;
using ::testing::HasSubstr;
using testing::random_input;

// Both outputs flattened into one, so that one gradcheck covers the gradient through each.
Tensor both(const std::pair<Tensor, Tensor>& hy) {
  return cat({hy.first.reshape({-1}), hy.second.reshape({-1})}, 0);
}

TEST(AddLayerNorm, MatchesDoubleReference) {
  const Tensor x = random_input({3, 4, 13}, 1, -2, 3, false).to(kFloat32);
  const Tensor r = random_input({3, 4, 13}, 2, -1, 1, false).to(kFloat32);
  const Tensor w = random_input({13}, 3, false).to(kFloat32);
  const Tensor b = random_input({13}, 4, false).to(kFloat32);
  const auto [h, y] = add_layer_norm(x, r, w, b, 1e-5);
  const auto xs = x.to_vector(), rs = r.to_vector(), ws = w.to_vector(), bs = b.to_vector();
  const auto hv = h.to_vector(), yv = y.to_vector();
  const size_t C = 13;
  for (size_t row = 0; row < xs.size() / C; ++row) {
    std::vector<double> hr(C);
    double mean = 0, var = 0;
    for (size_t c = 0; c < C; ++c) {
      hr[c] = static_cast<float>(xs[row * C + c] + rs[row * C + c]);  // h is stored in f32
      mean += hr[c] / static_cast<double>(C);
    }
    for (size_t c = 0; c < C; ++c) var += (hr[c] - mean) * (hr[c] - mean) / static_cast<double>(C);
    for (size_t c = 0; c < C; ++c) {
      EXPECT_EQ(hv[row * C + c], hr[c]);
      const double ref = (hr[c] - mean) / std::sqrt(var + 1e-5) * ws[c] + bs[c];
      EXPECT_NEAR(yv[row * C + c], ref, 1e-5 + 1e-5 * std::abs(ref)) << row << ", " << c;
    }
  }
}

// The fused op replaces x + r followed by layer_norm in GPT-2's blocks: it must change no bit,
// of the outputs or of any gradient, in f32 and bf16, on the parallel path (N * C > 2^15) too.
TEST(AddLayerNorm, SameBitsAsSeparateAddAndLayerNorm) {
  for (const DType dt : {kFloat32, kBFloat16}) {
    for (const int64_t rows : {6, 700}) {
      const Tensor x0 = random_input({rows, 96}, 5, -2, 2, false).to(dt);
      const Tensor r0 = random_input({rows, 96}, 6, -2, 2, false).to(dt);
      const Tensor w0 = random_input({96}, 7, false).to(dt),
                   b0 = random_input({96}, 8, false).to(dt);
      const Tensor dh = random_input({rows, 96}, 9, -1, 1, false).to(dt);
      const Tensor dy = random_input({rows, 96}, 10, -1, 1, false).to(dt);
      auto run = [&](bool fused) {
        const Tensor x = testing::leaf(x0, dt), r = testing::leaf(r0, dt);
        const Tensor w = testing::leaf(w0, dt), b = testing::leaf(b0, dt);
        Tensor h, y;
        if (fused) {
          std::tie(h, y) = add_layer_norm(x, r, w, b);
        } else {
          h = x + r;
          y = layer_norm(h, w, b);
        }
        (h * dh + y * dy).sum().backward();
        return std::vector<std::vector<double>>{h.to_vector(),        y.to_vector(),
                                                x.grad().to_vector(), r.grad().to_vector(),
                                                w.grad().to_vector(), b.grad().to_vector()};
      };
      EXPECT_EQ(run(true), run(false)) << dt << " rows " << rows;
    }
  }
}

TEST(AddLayerNorm, Gradcheck) {
  EXPECT_TRUE(gradcheck(
      "add_layer_norm",
      [](const std::vector<Tensor>& in) {
        return both(add_layer_norm(in[0], in[1], in[2], in[3]));
      },
      {random_input({4, 7}, 11), random_input({4, 7}, 12), random_input({7}, 13),
       random_input({7}, 14)}));
  // no affine; a non-contiguous residual (the (5, 6) leaf transposed)
  EXPECT_TRUE(gradcheck(
      "add_layer_norm",
      [](const std::vector<Tensor>& in) {
        return both(add_layer_norm(in[0], in[1].t(), Tensor(), Tensor(), 1e-3));
      },
      {random_input({6, 5}, 15), random_input({5, 6}, 16)}));
}

TEST(AddLayerNorm, MatchesPyTorch) {
  const auto f = testing::load_fixture("fused");
  const Tensor x = testing::leaf(f["ln_x"], kFloat32), r = testing::leaf(f["ln_r"], kFloat32);
  const Tensor w = testing::leaf(f["ln_w"], kFloat32), b = testing::leaf(f["ln_b"], kFloat32);
  const auto [h, y] = add_layer_norm(x, r, w, b, 1e-5);
  EXPECT_TRUE(testing::all_close(h, f["ln_h"], 0, 0));
  EXPECT_TRUE(testing::all_close(y, f["ln_y"], 1e-5, 1e-5));
  (h * f["ln_dh"] + y * f["ln_dy"]).sum().backward();
  EXPECT_TRUE(testing::all_close(x.grad(), f["ln_dx"], 1e-4, 1e-5));
  EXPECT_TRUE(testing::all_close(r.grad(), f["ln_dr"], 1e-4, 1e-5));
  EXPECT_TRUE(testing::all_close(w.grad(), f["ln_dw"], 1e-4, 1e-5));
  EXPECT_TRUE(testing::all_close(b.grad(), f["ln_db"], 1e-4, 1e-5));
}

TEST(AddLayerNorm, NoGraphWithoutGradients) {
  const Tensor x = random_input({2, 5}, 17, -1, 1, false),
               r = random_input({2, 5}, 18, -1, 1, false);
  const auto [h, y] = add_layer_norm(x, r, Tensor(), Tensor());
  EXPECT_FALSE(h.requires_grad());
  EXPECT_FALSE(y.requires_grad());
}

TEST(AddLayerNorm, RejectsMismatchedOperands) {
  const Tensor x = random_input({2, 5}, 1, -1, 1, false);
  EXPECT_THAT(
      [&] {
        add_layer_norm(x, random_input({1, 5}, 2, -1, 1, false), Tensor(), Tensor());
      },
      ::testing::ThrowsMessage<ShapeError>(
          HasSubstr("add_layer_norm: residual [1, 5] does not match input [2, 5]")));
  EXPECT_THAT(
      [&] { add_layer_norm(x, x.to(kFloat32), Tensor(), Tensor()); },
      ::testing::ThrowsMessage<DTypeError>(HasSubstr("add_layer_norm")));
  EXPECT_THAT(
      [&] { add_layer_norm(x, x, random_input({4}, 3, -1, 1, false), Tensor()); },
      ::testing::ThrowsMessage<ShapeError>(HasSubstr("add_layer_norm: weight [4]")));
  EXPECT_THAT(
      [&] { add_layer_norm(x, Tensor(), Tensor(), Tensor()); },
      ::testing::ThrowsMessage<Error>(HasSubstr("add_layer_norm")));
}

}  // namespace
}  // namespace nabla
