// Branch-free f32 exp and erfc that GCC vectorises inside `#pragma omp simd` loops (libm calls
// do not vectorise without -ffast-math). Used by sigmoid, silu and GELU in f32/bf16, which
// are bound by these functions: GELU-tanh at (256, 3072) ran at ~40 ns/element with libm tanhf.
// f64 keeps libm, so gradcheck and f64 results stay exact to the last bits.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace nabla::kernels::cpu::detail {

/// e^x with ~1 ulp error on [-87, 88] (Cephes expf: Cody-Waite reduction and a degree-5
/// polynomial); inputs outside saturate to e^-87 and e^88, fine for the saturating functions
/// and the softmax sums that use it; NaN stays NaN.
inline float exp_f32(float x) {
  // Ternaries and the 1.5 * 2^23 rounding trick instead of std::min/max/floor: those block
  // vectorisation (GCC 12).
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  // A NaN x gives NaN through p; its exponent must not come from converting NaN to an
  // integer, which is undefined (and UBSan stops there).
  const float ni = n == n ? n : 0.0f;
  const auto bits = static_cast<uint32_t>(static_cast<int32_t>(ni) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

/// 1 / (1 + e^-x)
inline float sigmoid_f32(float x) { return 1.0f / (1.0f + exp_f32(-x)); }

/// 1 + erf(z), without the cancellation of 1 + erf for negative z: erfc(|z|) from
/// Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7), reflected for z >= 0.
inline float one_plus_erf_f32(float z) {
  const float a = std::abs(z);
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float erfc_a = p * t * exp_f32(-a * a);
  return z >= 0.0f ? 2.0f - erfc_a : erfc_a;
}

}  // namespace nabla::kernels::cpu::detail
