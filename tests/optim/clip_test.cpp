// clip_grad_norm_ against torch.nn.utils.clip_grad_norm_, a double reference, thread-count
// determinism and the non-finite case.
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

}  // namespace
}  // namespace nabla::optim
