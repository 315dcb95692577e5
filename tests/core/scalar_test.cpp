// Scalar keeps the value as a double and as an int64; floating values that no int64 holds
// (masked_fill(mask, -INFINITY) passes one) saturate instead of being cast (undefined).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "nabla/core/scalar.h"

namespace nabla {
namespace {

TEST(Scalar, KeepsIntegersExactAndSaturatesFloats) {
  EXPECT_TRUE(Scalar(int64_t{9007199254740993}).is_integral());
  EXPECT_EQ(Scalar(int64_t{9007199254740993}).to_int(), 9007199254740993);
  EXPECT_FALSE(Scalar(2.75).is_integral());
  EXPECT_EQ(Scalar(2.75).to_int(), 2);
  EXPECT_EQ(Scalar(-2.75f).to_int(), -2);
  EXPECT_EQ(Scalar(-INFINITY).to_int(), INT64_MIN);
  EXPECT_EQ(Scalar(INFINITY).to_int(), INT64_MAX);
  EXPECT_EQ(Scalar(1e300).to_int(), INT64_MAX);
  EXPECT_EQ(Scalar(std::nan("")).to_int(), 0);
  EXPECT_TRUE(std::isinf(Scalar(-INFINITY).to_double()));
}

}  // namespace
}  // namespace nabla
