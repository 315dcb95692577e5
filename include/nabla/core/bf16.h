// bfloat16: the top 16 bits of an IEEE f32. Conversion from f32 rounds to nearest even
// (as PyTorch and oneDNN do); NaN stays NaN.
#pragma once

#include <bit>
#include <cstdint>

namespace nabla {

/// A bfloat16 value: storage type only; arithmetic happens in f32.
struct BFloat16 {
  uint16_t bits = 0;

  BFloat16() = default;
  /// Rounds to nearest even.
  BFloat16(float f) : bits(from_float(f)) {}  // NOLINT(google-explicit-constructor)
  operator float() const { return std::bit_cast<float>(uint32_t{bits} << 16); }  // NOLINT

  static uint16_t from_float(float f) {
    uint32_t u = std::bit_cast<uint32_t>(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
  }
};

}  // namespace nabla
