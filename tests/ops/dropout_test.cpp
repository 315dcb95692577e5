// dropout: mask from (seed, offset + i) only, scaling, identity when off, p = 1, gradcheck,
// errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/kernels/cpu/dropout.h"
#include "nabla/ops/ops.h"
#include "tests/ops/nn_test_helpers.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using testing::gradcheck;
using testing::random_input;

TEST(Dropout, MaskDependsOnlyOnSeedAndOffset) {
  const Tensor x = random_input({7, 9}, 1, 0.5, 1.5, false);
  Generator gen(42);
  gen.advance(3);  // an odd offset: element i uses counter 3 + i
  const Tensor y = dropout(x, 0.3, true, &gen);
  EXPECT_EQ(gen.offset(), 3u + 63u);
  const auto xv = x.to_vector(), yv = y.to_vector();
  int kept = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const bool keep = kernels::cpu::dropout_keep(42, 3, static_cast<int64_t>(i), 0.3);
    EXPECT_DOUBLE_EQ(yv[i], keep ? xv[i] / 0.7 : 0.0) << i;
    kept += keep;
  }
  EXPECT_GT(kept, 30);  // 63 draws at keep probability 0.7: 44 expected
  EXPECT_LT(kept, 58);
  // the same counters give the same mask, whatever the split of work
  Generator again(42);
  again.advance(3);
  EXPECT_EQ(dropout(x, 0.3, true, &again).to_vector(), yv);
}

TEST(Dropout, LargeTensorKeepRateAndScale) {
  const Tensor x = ones({300, 200});  // parallel path
  Generator gen(7);
  const auto yv = dropout(x, 0.25, true, &gen).to_vector();
  double kept = 0;
  for (double v : yv) {
    ASSERT_TRUE(v == 0.0 || std::abs(v - 1.0 / 0.75) < 1e-6);
    kept += v != 0.0;
  }
  EXPECT_NEAR(kept / 60000.0, 0.75, 0.01);  // 6 standard deviations is 0.0106
  for (size_t i = 0; i < yv.size(); i += 997) {
    EXPECT_EQ(yv[i] != 0.0, kernels::cpu::dropout_keep(7, 0, static_cast<int64_t>(i), 0.25));
  }
}

TEST(Dropout, IdentityWhenEvalOrZeroAndZerosWhenOne) {
  const Tensor x = random_input({4, 5}, 2, -1, 1, false);
  EXPECT_EQ(dropout(x, 0.5, false).to_vector(), x.to_vector());
  EXPECT_EQ(dropout(x, 0.0, true).to_vector(), x.to_vector());
  const Tensor xl = testing::leaf(x, kFloat64);
  const Tensor y = dropout(xl, 1.0, true);
  EXPECT_EQ(y.to_vector(), std::vector<double>(20, 0.0));
  y.sum().backward();
  EXPECT_EQ(xl.grad().to_vector(), std::vector<double>(20, 0.0));
}

TEST(Dropout, Gradcheck) {
  // the same generator state for every evaluation, so the mask is fixed
  auto f = [](const std::vector<Tensor>& in) {
    Generator gen(5);
    return dropout(in[0], 0.4, true, &gen);
  };
  EXPECT_TRUE(gradcheck("dropout", f, {random_input({5, 6}, 3)}));
  auto ft = [](const std::vector<Tensor>& in) {
    Generator gen(6);
    return dropout(in[0].t(), 0.4, true, &gen);
  };
  EXPECT_TRUE(gradcheck("dropout", ft, {random_input({6, 5}, 4)}));
}

TEST(Dropout, BFloat16AndNonContiguous) {
  const Tensor x = random_input({8, 6}, 5, -1, 1, false).t();  // (6, 8) non-contiguous
  Generator g1(9), g2(9);
  const Tensor y64 = dropout(x, 0.5, true, &g1);
  const Tensor y16 = dropout(x.to(kBFloat16), 0.5, true, &g2);
  EXPECT_EQ(y16.dtype(), kBFloat16);
  EXPECT_TRUE(testing::all_close(y16, y64, 8e-3, 1e-6));
  const auto xv = x.to_vector(), yv = y64.to_vector();
  for (size_t i = 0; i < xv.size(); ++i) {
    EXPECT_DOUBLE_EQ(yv[i], kernels::cpu::dropout_keep(9, 0, static_cast<int64_t>(i), 0.5) ? 2 * xv[i] : 0);
  }
}

TEST(Dropout, RejectsProbabilityOutsideUnitInterval) {
  const Tensor x = ones({3});
  EXPECT_THAT([&] { dropout(x, 1.5, true); },
              ::testing::ThrowsMessage<Error>(HasSubstr("dropout: probability has to be between 0 and 1, but got 1.5")));
  EXPECT_THROW(dropout(x, -0.1, false), Error);
}

}  // namespace
}  // namespace nabla
