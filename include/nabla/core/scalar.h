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
      : is_integral_(std::is_integral_v<T>), d_(static_cast<double>(v)), i_(static_cast<int64_t>(v)) {}

  bool is_integral() const { return is_integral_; }
  double to_double() const { return d_; }
  int64_t to_int() const { return i_; }

 private:
  bool is_integral_;
  double d_;
  int64_t i_;
};

}  // namespace nabla
