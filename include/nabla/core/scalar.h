// Scalar: a number passed to an op (t + 1, t * 0.5). Integer scalars keep an integer tensor's
// dtype; a floating scalar with an integer tensor gives f32, as in PyTorch.
#pragma once

#include <cstdint>
#include <type_traits>

namespace nabla {

class Scalar {
 public:
  template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  Scalar(T v)  // NOLINT(google-explicit-constructor)
      : is_integral_(std::is_integral_v<T>), d_(static_cast<double>(v)), i_(to_int64(v)) {}

  bool is_integral() const { return is_integral_; }
  double to_double() const { return d_; }
  int64_t to_int() const { return i_; }

 private:
  // Floating values saturate (-inf, 1e300) and NaN is 0: a plain cast of those is undefined.
  template <typename T>
  static int64_t to_int64(T v) {
    if constexpr (std::is_integral_v<T>) {
      return static_cast<int64_t>(v);
    } else {
      if (!(v == v)) return 0;  // NOLINT(misc-redundant-expression): NaN test
      if (v >= static_cast<T>(9.2233720368547758e18)) return INT64_MAX;
      if (v <= static_cast<T>(-9.2233720368547758e18)) return INT64_MIN;
      return static_cast<int64_t>(v);
    }
  }

  bool is_integral_;
  double d_;
  int64_t i_;
};

}  // namespace nabla
