// causal_attention (the fused flash-style op): forward against a double-precision loop
// (grouped-query heads, fewer queries than keys, sizes off the 64-key tile, T = 1, strided
// heads), gradcheck with and without dropout, dropout against the unfused ops, the same bits
// run to run and for any thread count, a PyTorch fixture, and clear errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nabla/core/threads.h"
#include "nabla/ops/attention.h"
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

// out (B, H, Tq, D) in double, row-major, from the tensors' values (any strides).
std::vector<double> reference(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  const std::vector<double> qv = q.to_vector(), kv = k.to_vector(), vv = v.to_vector();
  const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), Tk = k.size(2);
  std::vector<double> out(static_cast<size_t>(B * H * Tq * D));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kv0 = (b * Hkv + h / (H / Hkv)) * Tk;
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t q0 = (b * H + h) * Tq + i, n = Tk - Tq + i + 1;  // keys seen
        std::vector<double> s(static_cast<size_t>(n));
        double max = -INFINITY, sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          for (int64_t d = 0; d < D; ++d) s[j] += qv[q0 * D + d] * kv[(kv0 + j) * D + d];
          s[j] *= scale;
          max = std::max(max, s[j]);
        }
        for (double& e : s) sum += (e = std::exp(e - max));
        for (int64_t j = 0; j < n; ++j) {
          for (int64_t d = 0; d < D; ++d) out[q0 * D + d] += s[j] / sum * vv[(kv0 + j) * D + d];
        }
      }
    }
  }
  return out;
}

// The unfused ops the models used before: matmul, mask, softmax, dropout, matmul.
Tensor composite(const Tensor& q, const Tensor& k, const Tensor& v, double scale, double p,
                 Generator* gen) {
  const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), Tk = k.size(2), rep = H / Hkv;
  const Tensor kk = k.unsqueeze(2).expand({B, Hkv, rep, Tk, D}).reshape({B, H, Tk, D});
  const Tensor vv = v.unsqueeze(2).expand({B, Hkv, rep, Tk, D}).reshape({B, H, Tk, D});
  const Tensor mask = triu(ones({Tq, Tk}, kBool), Tk - Tq + 1);
  const Tensor probs = (q.matmul(kk.transpose(2, 3)) * scale).masked_fill(mask, -INFINITY);
  return dropout(probs.softmax(-1), p, p > 0.0, gen).matmul(vv);
}

TEST(CausalAttention, MatchesDoubleReference) {
  struct Case {
    int64_t B, H, Hkv, Tq, Tk, D;
  };
  // Off the tile: 37 and 130 keys (64-key tiles), prefill offsets, T = 1, GQA, D 64.
  for (const Case c : {Case{2, 4, 2, 37, 37, 20}, Case{1, 2, 1, 5, 70, 8}, Case{1, 3, 3, 1, 1, 16},
                       Case{1, 2, 2, 1, 9, 8}, Case{2, 2, 1, 130, 130, 64},
                       Case{1, 6, 2, 33, 140, 12}}) {
    Generator g(static_cast<uint64_t>(c.Tq * 131 + c.Tk));
    const Tensor q = randn({c.B, c.H, c.Tq, c.D}, {}, &g);
    const Tensor k = randn({c.B, c.Hkv, c.Tk, c.D}, {}, &g);
    const Tensor v = randn({c.B, c.Hkv, c.Tk, c.D}, {}, &g);
    const double scale = 1.0 / std::sqrt(double(c.D));
    const Tensor out = causal_attention(q, k, v, scale);
    ASSERT_EQ(out.shape(), Shape({c.B, c.H, c.Tq, c.D}));
    EXPECT_TRUE(testing::vectors_near(out.to_vector(), reference(q, k, v, scale), 1e-5, 1e-5))
        << "Tq=" << c.Tq << " Tk=" << c.Tk << " D=" << c.D;
  }
}

TEST(CausalAttention, ReadsStridedHeadsInPlace) {
  // Heads as views of a (B, T, 3, H, D) projection, as GPT-2 splits c_attn's output.
  const int64_t B = 2, T = 70, H = 3, D = 16;
  const Tensor qkv = randn({B, T, 3, H, D});
  const Tensor q = qkv.select(2, 0).transpose(1, 2), k = qkv.select(2, 1).transpose(1, 2);
  const Tensor v = qkv.select(2, 2).transpose(1, 2);
  const Tensor out = causal_attention(q, k, v, 0.25);
  EXPECT_TRUE(testing::vectors_near(out.to_vector(), reference(q, k, v, 0.25), 1e-5, 1e-5));
  // the last dim strided too: copied, same values
  const Tensor qt = q.transpose(2, 3).contiguous().transpose(2, 3);
  EXPECT_TRUE(testing::vectors_near(causal_attention(qt, k, v, 0.25).to_vector(),
                                    out.to_vector(), 0, 0));
}

TEST(CausalAttention, Gradcheck) {
  auto f = [](double scale) {
    return [scale](const std::vector<Tensor>& in) {
      return causal_attention(in[0], in[1], in[2], scale);
    };
  };
  // GQA with 2 query heads per key/value head, 3 queries after 2 cached keys.
  EXPECT_TRUE(gradcheck("causal_attention", f(0.7),
                        {random_input({2, 4, 3, 5}, 1), random_input({2, 2, 5, 5}, 2),
                         random_input({2, 2, 5, 5}, 3)}));
  // Two key tiles (70 keys), 66 queries: the online softmax rescales across tiles.
  EXPECT_TRUE(gradcheck("causal_attention", f(0.9),
                        {random_input({1, 1, 66, 2}, 4, -2, 2),
                         random_input({1, 1, 70, 2}, 5, -2, 2), random_input({1, 1, 70, 2}, 6)}));
  // Strided heads: q a transposed view of a (B, T, H, D) leaf.
  EXPECT_TRUE(gradcheck(
      "causal_attention",
      [](const std::vector<Tensor>& in) {
        return causal_attention(in[0].transpose(1, 2), in[1], in[2], 0.5);
      },
      {random_input({1, 4, 2, 3}, 7), random_input({1, 2, 4, 3}, 8),
       random_input({1, 2, 4, 3}, 9)}));
}

TEST(CausalAttention, GradcheckWithDropout) {
  // The same generator state for every evaluation: backward must regenerate forward's mask.
  auto f = [](const std::vector<Tensor>& in) {
    Generator gen(11);
    return causal_attention(in[0], in[1], in[2], 0.6, 0.3, &gen);
  };
  EXPECT_TRUE(gradcheck("causal_attention", f,
                        {random_input({1, 2, 7, 4}, 10), random_input({1, 1, 9, 4}, 11),
                         random_input({1, 1, 9, 4}, 12)}));
}

TEST(CausalAttention, DropoutDrawsAsTheUnfusedOps) {
  // Same generator state: the same mask as dropout() over the (B, H, Tq, Tk) probabilities.
  const Tensor q = randn({2, 4, 20, 8}), k = randn({2, 2, 23, 8}), v = randn({2, 2, 23, 8});
  Generator g1(3), g2(3), g3(3);
  const Tensor fused = causal_attention(q, k, v, 0.35, 0.25, &g1);
  const Tensor unfused = composite(q, k, v, 0.35, 0.25, &g2);
  EXPECT_TRUE(testing::all_close(fused, unfused, 1e-5, 1e-5));
  EXPECT_EQ(g1.offset(), g2.offset());
  const Tensor again = causal_attention(q, k, v, 0.35, 0.25, &g3);
  EXPECT_EQ(fused.to_vector(), again.to_vector());
  EXPECT_NE(fused.to_vector(), causal_attention(q, k, v, 0.35, 0.25, &g1).to_vector());
}

TEST(CausalAttention, SameBitsRunToRunAndForAnyThreadCount) {
  Generator g(4);
  const Tensor q0 = randn({2, 6, 100, 32}, {}, &g), k0 = randn({2, 3, 100, 32}, {}, &g);
  const Tensor v0 = randn({2, 3, 100, 32}, {}, &g), dy = randn({2, 6, 100, 32}, {}, &g);
  auto run = [&](int threads) {
    const int saved = get_num_threads();
    set_num_threads(threads);
    const Tensor q = testing::leaf(q0, kFloat32), k = testing::leaf(k0, kFloat32);
    const Tensor v = testing::leaf(v0, kFloat32);
    Generator gen(8);
    const Tensor out = causal_attention(q, k, v, 0.2, 0.1, &gen);
    out.backward(dy);
    set_num_threads(saved);
    return std::vector<std::vector<double>>{out.to_vector(), q.grad().to_vector(),
                                            k.grad().to_vector(), v.grad().to_vector()};
  };
  const auto two = run(2);
  EXPECT_EQ(two, run(2));
  EXPECT_EQ(two, run(1));
}

TEST(CausalAttention, MatchesPyTorch) {
  const auto fx = testing::load_fixture("nn_causal_attention");
  for (const std::string c : {"gqa", "prefill"}) {
    const Tensor q = testing::leaf(fx[c + "_q"], kFloat32);
    const Tensor k = testing::leaf(fx[c + "_k"], kFloat32);
    const Tensor v = testing::leaf(fx[c + "_v"], kFloat32);
    const Tensor out = causal_attention(q, k, v, fx.meta[c + "_scale"].get<double>());
    EXPECT_TRUE(testing::all_close(out, fx[c + "_out"], 1e-5, 1e-5)) << c;
    out.backward(fx[c + "_dy"]);
    // f32 sums in another order than torch's: a few ulp of the largest terms
    EXPECT_TRUE(testing::all_close(q.grad(), fx[c + "_dq"], 1e-4, 1e-5)) << c;
    EXPECT_TRUE(testing::all_close(k.grad(), fx[c + "_dk"], 1e-4, 1e-5)) << c;
    EXPECT_TRUE(testing::all_close(v.grad(), fx[c + "_dv"], 1e-4, 1e-5)) << c;
  }
}

TEST(CausalAttention, BadInputIsAClearError) {
  const Tensor q = randn({1, 4, 3, 8}), k = randn({1, 2, 5, 8});
  EXPECT_THAT([&] { causal_attention(q, randn({1, 3, 5, 8}), randn({1, 3, 5, 8}), 1.0); },
              ThrowsMessage<ShapeError>(HasSubstr("H a multiple of Hkv")));
  EXPECT_THAT([&] { causal_attention(randn({1, 4, 6, 8}), k, k, 1.0); },
              ThrowsMessage<ShapeError>(HasSubstr("Tq <= Tk, got q [1, 4, 6, 8], k [1, 2, 5, 8]")));
  EXPECT_THAT([&] { causal_attention(q.to(kBFloat16), k, k, 1.0); },
              ThrowsMessage<DTypeError>(HasSubstr("causal_attention: q, k, v must all be f32")));
  EXPECT_THAT([&] { causal_attention(q, k, k, 1.0, 1.0); },
              ThrowsMessage<Error>(HasSubstr("dropout probability must be in [0, 1), got 1")));
}

}  // namespace
}  // namespace nabla
