// f16 -> f32 by moving the exponent and mantissa fields; subnormal halves are m * 2^-24,
// which f32 represents exactly.
#include "nabla/kernels/cpu/f16.h"

#include <bit>

namespace nabla::kernels::cpu {

namespace {
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  uint32_t bits = 0;
  if (em >= 0x7c00u) {  // inf or NaN
    bits = 0x7f800000u | ((em & 0x3ffu) << 13);
  } else if (em >= 0x0400u) {  // normal: rebias the exponent from 15 to 127
    bits = (em << 13) + ((127u - 15u) << 23);
  } else {  // zero or subnormal
    bits = std::bit_cast<uint32_t>(static_cast<float>(em) * 0x1p-24f);
  }
  return std::bit_cast<float>(bits | sign);
}
}  // namespace

void f16_to_f32(float* dst, const uint16_t* src, int64_t n) {
#pragma omp parallel for if (n > (1 << 16)) schedule(static)
  for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
}

}  // namespace nabla::kernels::cpu
