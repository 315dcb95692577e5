// f16_to_f32 against the IEEE 754 binary16 definition, for all 65536 bit patterns.
#include "nabla/kernels/cpu/f16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

namespace nabla::kernels::cpu {
namespace {

// value = (-1)^s * 2^(e-15) * (1 + f/1024), subnormal 2^-14 * f/1024, e = 31: inf/NaN.
double binary16_value(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  double v = e == 0 ? std::ldexp(f / 1024.0, -14) : std::ldexp(1.0 + f / 1024.0, e - 15);
  if (e == 31) v = f == 0 ? INFINITY : NAN;
  return s ? -v : v;
}

TEST(F16ToF32, MatchesDefinitionForAllBitPatterns) {
  std::vector<uint16_t> src(65536);
  for (uint32_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint16_t>(i);
  std::vector<float> dst(src.size());
  f16_to_f32(dst.data(), src.data(), static_cast<int64_t>(src.size()));
  for (uint32_t i = 0; i < src.size(); ++i) {
    const double want = binary16_value(static_cast<uint16_t>(i));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(dst[i])) << i;
      // The payload moves to the top of the f32 mantissa; the sign stays.
      ASSERT_EQ(std::bit_cast<uint32_t>(dst[i]) & 0x7fffffu, (i & 0x3ffu) << 13) << i;
    } else {
      ASSERT_EQ(static_cast<double>(dst[i]), want) << i;
    }
    ASSERT_EQ(std::signbit(dst[i]), (i >> 15) != 0) << i;
  }
}

}  // namespace
}  // namespace nabla::kernels::cpu
