// clip_grad_norm_ against torch.nn.utils.clip_grad_norm_, a double reference, thread-count
// determinism and the non-finite case; grad_norm with Optimizer::step(grad_scale) against
// clip_grad_norm_ then step(), bit for bit.
#include <cmath>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/threads.h"
#include "tests/optim/optim_testing.h"

namespace nabla::optim {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using namespace nabla::optim::testing;  // NOLINT(google-build-using-namespace)

void expect_clip_case(const std::string& name, double max_norm, double norm_type) {
  const auto f = nabla::testing::load_fixture("optim_clip");
  std::vector<Tensor> params;
  for (int i = 0; i < 3; ++i) {
    const Tensor& g = f[std::string("g").append(std::to_string(i))];
    Tensor p = make_param(g);
    p.set_grad(copy_tensor(g));
    params.push_back(p);
  }
  const double total = clip_grad_norm_(params, max_norm, norm_type);
  // torch sums in f32, we in double: agreement to f32 rounding.
  EXPECT_NEAR(total, f[name + ".total"].to_vector()[0], 1e-6 * total) << name;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(nabla::testing::all_close(params[static_cast<size_t>(i)].grad(),
                                          f[name + ".g" + std::to_string(i)], 1e-6, 1e-7))
        << name << " g" << i;
  }
}

TEST(ClipGradNorm, MatchesTorchL2) { expect_clip_case("l2", 1.0, 2.0); }
TEST(ClipGradNorm, MatchesTorchL1BelowMaxNormUnchanged) { expect_clip_case("l1_noclip", 100.0, 1.0); }
TEST(ClipGradNorm, MatchesTorchInfNorm) {
  expect_clip_case("inf", 0.5, std::numeric_limits<double>::infinity());
}
TEST(ClipGradNorm, MatchesTorchL3) { expect_clip_case("l3", 0.7, 3.0); }

TEST(ClipGradNorm, MatchesDoubleReferenceAndIsThreadCountIndependent) {
  const std::vector<double> a = random_values(70'001, 5), b = random_values(13, 6);
  double sum = 0;
  for (const double x : a) sum += x * x;
  for (const double x : b) sum += x * x;
  const double expected = std::sqrt(sum);
  std::vector<double> totals;
  std::vector<Tensor> clipped;
  const int threads = get_num_threads();
  for (const int n : {1, 2, 3}) {
    set_num_threads(n);
    Tensor p = make_param(from_values(a, kFloat64), kFloat64);
    Tensor q = make_param(from_values(b, kFloat64), kFloat64);
    p.set_grad(from_values(a, kFloat64));
    q.set_grad(from_values(b, kFloat64));
    totals.push_back(clip_grad_norm_({p, q}, 1.0));
    clipped.push_back(p.grad());
  }
  set_num_threads(threads);
  EXPECT_NEAR(totals[0], expected, 1e-12 * expected);
  for (size_t i = 1; i < totals.size(); ++i) {
    EXPECT_EQ(totals[i], totals[0]);
    EXPECT_TRUE(bitwise_equal(clipped[i], clipped[0]));
  }
  std::vector<double> scaled(a.size());
  for (size_t i = 0; i < a.size(); ++i) scaled[i] = a[i] * (1.0 / (expected + 1e-6));
  EXPECT_TRUE(nabla::testing::all_close(clipped[0], from_values(scaled, kFloat64), 1e-12, 1e-15));
}

TEST(ClipGradNorm, NonFiniteNormIsReturnedAndGradientsLeftAlone) {
  Tensor p = make_param(from_values({1, 2}, kFloat32));
  p.set_grad(from_values({3, std::numeric_limits<double>::infinity()}, kFloat32));
  EXPECT_TRUE(std::isinf(clip_grad_norm_({p}, 1.0)));
  EXPECT_EQ(p.grad().to_vector()[0], 3.0);
  p.set_grad(from_values({3, std::nan("")}, kFloat32));
  EXPECT_TRUE(std::isnan(clip_grad_norm_({p}, 1.0)));
  EXPECT_TRUE(std::isnan(clip_grad_norm_({p}, 1.0, std::numeric_limits<double>::infinity())));
  EXPECT_EQ(p.grad().to_vector()[0], 3.0);
}

TEST(ClipGradNorm, SkipsParametersWithoutGradient) {
  Tensor p = make_param(from_values({1, 2}, kFloat32));
  Tensor q = make_param(from_values({1}, kFloat32));
  EXPECT_EQ(clip_grad_norm_({p, q}, 1.0), 0.0);
  q.set_grad(from_values({4}, kFloat32));
  EXPECT_DOUBLE_EQ(clip_grad_norm_({p, q}, 1.0), 4.0);
  EXPECT_FALSE(p.grad().defined());
  EXPECT_THAT([&] { clip_grad_norm_({q}, 1.0, 0.0); },
              ThrowsMessage<Error>(HasSubstr("norm_type must be a positive number or inf")));
}

// Clipping inside the optimizer's pass must give the parameters and state that clip_grad_norm_
// then step() gives, bit for bit, for every optimizer and parameter dtype; the gradients are
// left unscaled. Three steps, so that Adam's moments carry the scaled gradients forward.
TEST(GradNorm, StepWithScaleEqualsClipThenStep) {
  const std::vector<std::pair<const char*, MakeOptimizer>> optimizers = {
      {"AdamW", [](Tensor w, Tensor b) -> std::unique_ptr<Optimizer> {
         return std::make_unique<AdamW>(std::vector<Tensor>{w, b},
                                        AdamWOptions{.lr = 1e-2, .weight_decay = 0.1});
       }},
      {"Adam", [](Tensor w, Tensor b) -> std::unique_ptr<Optimizer> {
         return std::make_unique<Adam>(std::vector<Tensor>{w, b},
                                       AdamOptions{.lr = 1e-2, .weight_decay = 0.1});
       }},
      {"SGD", [](Tensor w, Tensor b) -> std::unique_ptr<Optimizer> {
         return std::make_unique<SGD>(std::vector<Tensor>{w, b},
                                      SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
       }},
      {"SGD plain", [](Tensor w, Tensor b) -> std::unique_ptr<Optimizer> {
         return std::make_unique<SGD>(std::vector<Tensor>{w, b}, SGDOptions{.lr = 0.1});
       }}};
  for (const DType dt : {kFloat32, kFloat64, kBFloat16}) {
    for (const auto& [name, make] : optimizers) {
      // 70000 weights: the multi-tensor kernel's parallel path
      const Tensor w0 = from_values(random_values(70000, 1), dt);
      const Tensor b0 = from_values(random_values(5, 2), dt);
      Tensor w_ref = make_param(w0, dt), b_ref = make_param(b0, dt);
      Tensor w = make_param(w0, dt), b = make_param(b0, dt);
      const auto opt_ref = make(w_ref, b_ref);
      const auto opt = make(w, b);
      for (unsigned k = 0; k < 3; ++k) {
        // gradients of norm ~150, 1.5 and 0.015: clipped to 1 in the first two steps only
        const double mag = k == 0 ? 1.0 : k == 1 ? 0.01 : 1e-4;
        std::vector<double> gw = random_values(70000, 10 + k), gb = random_values(5, 20 + k);
        for (double& x : gw) x *= mag;
        for (double& x : gb) x *= mag;
        w_ref.set_grad(from_values(gw, dt));
        b_ref.set_grad(from_values(gb, dt));
        w.set_grad(from_values(gw, dt));
        b.set_grad(from_values(gb, dt));
        const double total_ref = clip_grad_norm_({w_ref, b_ref}, 1.0);
        opt_ref->step();
        const GradNorm n = grad_norm({w, b}, 1.0);
        EXPECT_EQ(n.total, total_ref) << name;
        EXPECT_EQ(n.scale < 1.0, k < 2) << name << " step " << k;
        opt->step(n.scale);
        EXPECT_TRUE(bitwise_equal(w, w_ref)) << name << " " << dt << " step " << k;
        EXPECT_TRUE(bitwise_equal(b, b_ref)) << name << " " << dt << " step " << k;
        EXPECT_TRUE(bitwise_equal(w.grad(), from_values(gw, dt))) << "gradient left unscaled";
      }
    }
  }
}

TEST(GradNorm, ScaleIsOneWithinMaxNormOrWhenNotFinite) {
  Tensor p = make_param(from_values({3, 4}, kFloat32));
  p.set_grad(from_values({3, 4}, kFloat32));
  EXPECT_EQ(grad_norm({p}, 10.0).scale, 1.0);
  EXPECT_DOUBLE_EQ(grad_norm({p}, 10.0).total, 5.0);
  EXPECT_DOUBLE_EQ(grad_norm({p}, 1.0).scale, 1.0 / (5.0 + 1e-6));
  p.set_grad(from_values({3, std::numeric_limits<double>::infinity()}, kFloat32));
  const GradNorm inf = grad_norm({p}, 1.0);
  EXPECT_TRUE(std::isinf(inf.total));
  EXPECT_EQ(inf.scale, 1.0);
  EXPECT_EQ(grad_norm({make_param(from_values({1}, kFloat32))}, 1.0).total, 0.0);  // no grads
}

TEST(GradNorm, StepRejectsABadScale) {
  Tensor p = make_param(from_values({1, 2}, kFloat32));
  p.set_grad(from_values({1, 1}, kFloat32));
  AdamW opt({p}, AdamWOptions{.lr = 0.1});
  for (const double bad : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    EXPECT_THAT([&] { opt.step(bad); },
                ThrowsMessage<Error>(HasSubstr("AdamW.step: grad_scale must be a positive")));
  }
  EXPECT_EQ(p.to_vector(), (std::vector<double>{1, 2})) << "nothing updated";
}

}  // namespace
}  // namespace nabla::optim
