// The binary element-wise kernels as templates over the storage dtype, shared by
// elementwise_binary.cpp (the dispatch, integer dtypes) and one file per floating dtype
// (elementwise_binary_{f32,f64,bf16}.cpp), so that the heaviest instantiations compile in
// parallel. Each case is a lambda in the compute type; the backward formulas follow PyTorch's
// derivatives.yaml / Activation.cpp.
#pragma once

#include <cmath>
#include <type_traits>

#include "kernels/cpu/elementwise_loop.h"
#include "kernels/cpu/vec_math.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/elementwise.h"

namespace nabla::kernels::cpu::detail {

template <typename C>
C pow_any(C base, C exp) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::pow(base, exp);
  } else {
    return int_pow(base, exp);
  }
}

// maximum/minimum propagate NaN, as torch.maximum does.
template <typename C>
C max_nan(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    if (a != a) return a;  // NOLINT(misc-redundant-expression): NaN test
  }
  return a > b ? a : b;
}
template <typename C>
C min_nan(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    if (a != a) return a;  // NOLINT(misc-redundant-expression): NaN test
  }
  return a < b ? a : b;
}

template <typename T>
void comparison(BinaryOp op, const Geometry& g, void* o, const void* a, const void* b, double s) {
  using C = compute_t<T>;
  switch (op) {
    case BinaryOp::kEq: return map2<bool, T>(g, o, a, b, s, [](C x, C y) { return x == y; });
    case BinaryOp::kNe: return map2<bool, T>(g, o, a, b, s, [](C x, C y) { return x != y; });
    case BinaryOp::kLt: return map2<bool, T>(g, o, a, b, s, [](C x, C y) { return x < y; });
    case BinaryOp::kLe: return map2<bool, T>(g, o, a, b, s, [](C x, C y) { return x <= y; });
    case BinaryOp::kGt: return map2<bool, T>(g, o, a, b, s, [](C x, C y) { return x > y; });
    case BinaryOp::kGe: return map2<bool, T>(g, o, a, b, s, [](C x, C y) { return x >= y; });
    case BinaryOp::kMaximum: return map2<T, T>(g, o, a, b, s, [](C x, C y) { return max_nan(x, y); });
    case BinaryOp::kMinimum: return map2<T, T>(g, o, a, b, s, [](C x, C y) { return min_nan(x, y); });
    default: break;
  }
  NABLA_ASSERT(false, "binary op ", static_cast<int>(op), " is not a comparison");
}

template <typename T>
void arithmetic(BinaryOp op, const Geometry& g, void* o, const void* a, const void* b,
                const ElementwiseParams& p) {
  using C = compute_t<T>;
  const double s = p.scalar;
  const C alpha = static_cast<C>(p.alpha);
  switch (op) {
    case BinaryOp::kAdd:
      if (p.alpha == 1.0) return map2<T, T>(g, o, a, b, s, [](C x, C y) { return x + y; });
      return map2<T, T>(g, o, a, b, s, [alpha](C x, C y) { return x + alpha * y; });
    case BinaryOp::kSub:
      if (p.alpha == 1.0) return map2<T, T>(g, o, a, b, s, [](C x, C y) { return x - y; });
      return map2<T, T>(g, o, a, b, s, [alpha](C x, C y) { return x - alpha * y; });
    case BinaryOp::kMul: return map2<T, T>(g, o, a, b, s, [](C x, C y) { return x * y; });
    case BinaryOp::kDiv: return map2<T, T>(g, o, a, b, s, [](C x, C y) { return x / y; });
    case BinaryOp::kPow: return map2<T, T>(g, o, a, b, s, [](C x, C y) { return pow_any(x, y); });
    default: return comparison<T>(op, g, o, a, b, s);
  }
}

template <typename C>
C gelu_backward(C dy, C x) {
  constexpr C kAlpha = C(M_SQRT1_2);
  constexpr C kBeta = C(M_2_SQRTPI * M_SQRT1_2 * 0.5);  // 1 / sqrt(2 pi)
  if constexpr (std::is_same_v<C, float>) {
    const C cdf = C(0.5) * one_plus_erf_f32(x * kAlpha);
    const C pdf = kBeta * exp_f32(x * x * C(-0.5));
    return dy * (cdf + x * pdf);
  } else {
    const C cdf = C(0.5) * (C(1) + std::erf(x * kAlpha));
    const C pdf = kBeta * std::exp(x * x * C(-0.5));
    return dy * (cdf + x * pdf);
  }
}

// f32: with s = sigmoid(2u), 1 + tanh(u) = 2s and 1 - tanh(u)^2 = 4 s (1 - s).
inline float gelu_tanh_backward_f32(float dy, float x) {
  constexpr float kBeta = float(M_SQRT2 * M_2_SQRTPI * 0.5);
  constexpr float kKappa = 0.044715f;
  const float x_sq = x * x;
  const float s = sigmoid_f32(2.0f * kBeta * (x + kKappa * x_sq * x));
  const float right_derivative = 2.0f * x * s * (1.0f - s) * kBeta * (1.0f + 3.0f * kKappa * x_sq);
  return dy * (s + right_derivative);
}

template <typename C>
C gelu_tanh_backward(C dy, C x) {
  if constexpr (std::is_same_v<C, float>) return gelu_tanh_backward_f32(dy, x);
  constexpr C kBeta = C(M_SQRT2 * M_2_SQRTPI * 0.5);
  constexpr C kKappa = C(0.044715);
  const C x_sq = x * x;
  const C inner = kBeta * (x + kKappa * x_sq * x);
  const C t = std::tanh(inner);
  const C left = C(0.5) * x;
  const C right = C(1) + t;
  const C left_derivative = C(0.5) * right;
  const C right_derivative = left * (C(1) - t * t) * kBeta * (C(1) + C(3) * kKappa * x_sq);
  return dy * (left_derivative + right_derivative);
}

template <typename T>
void backward(BinaryOp op, const Geometry& g, void* o, const void* dy, const void* v,
              const ElementwiseParams& p) {
  using C = compute_t<T>;
  const double s = p.scalar;
  switch (op) {
    case BinaryOp::kAbsBackward:
      return map2<T, T>(g, o, dy, v, s, [](C d, C x) { return x > C(0) ? d : (x < C(0) ? -d : C(0)); });
    case BinaryOp::kLogBackward: return map2<T, T>(g, o, dy, v, s, [](C d, C x) { return d / x; });
    case BinaryOp::kSqrtBackward:
      return map2<T, T>(g, o, dy, v, s, [](C d, C y) { return d / (C(2) * y); });
    case BinaryOp::kRsqrtBackward:
      return map2<T, T>(g, o, dy, v, s, [](C d, C y) { return C(-0.5) * d * y * y * y; });
    case BinaryOp::kTanhBackward:
      return map2<T, T>(g, o, dy, v, s, [](C d, C y) { return d * (C(1) - y * y); });
    case BinaryOp::kSigmoidBackward:
      return map2<T, T>(g, o, dy, v, s, [](C d, C y) { return d * (C(1) - y) * y; });
    case BinaryOp::kReluBackward:
      return map2<T, T>(g, o, dy, v, s, [](C d, C y) { return y <= C(0) ? C(0) : d; });
    case BinaryOp::kGeluBackward:
      return map2<T, T>(g, o, dy, v, s, [](C d, C x) { return gelu_backward(d, x); });
    case BinaryOp::kGeluTanhBackward:
      return map2<T, T>(g, o, dy, v, s, [](C d, C x) { return gelu_tanh_backward(d, x); });
    case BinaryOp::kSiluBackward:
      return map2<T, T>(g, o, dy, v, s, [](C d, C x) {
        C sig;
        if constexpr (std::is_same_v<C, float>) {
          sig = sigmoid_f32(x);
        } else {
          sig = C(1) / (C(1) + std::exp(-x));
        }
        return d * sig * (C(1) + x * (C(1) - sig));
      });
    case BinaryOp::kClampBackward: {
      const C lo = static_cast<C>(p.lo);
      const C hi = static_cast<C>(p.hi);
      return map2<T, T>(g, o, dy, v, s, [=](C d, C x) { return x >= lo && x <= hi ? d : C(0); });
    }
    case BinaryOp::kPowScalarBackward: {
      const C e = static_cast<C>(p.exponent);
      if (p.exponent == 0.0) return map2<T, T>(g, o, dy, v, s, [](C, C) { return C(0); });
      return map2<T, T>(g, o, dy, v, s, [e](C d, C x) { return d * e * std::pow(x, e - C(1)); });
    }
    default: return arithmetic<T>(op, g, o, dy, v, p);
  }
}

/// binary() for storage type T.
template <typename T>
void binary_as(BinaryOp op, const Geometry& g, void* out, const void* a, const void* b,
               const ElementwiseParams& p) {
  if constexpr (std::is_same_v<T, bool>) {
    comparison<T>(op, g, out, a, b, p.scalar);
  } else if constexpr (std::is_floating_point_v<compute_t<T>>) {
    backward<T>(op, g, out, a, b, p);
  } else {
    NABLA_ASSERT(op < BinaryOp::kAbsBackward, "backward op on an integer dtype");
    arithmetic<T>(op, g, out, a, b, p);
  }
}

// Compiled in their own files.
extern template void binary_as<float>(BinaryOp, const Geometry&, void*, const void*, const void*,
                                      const ElementwiseParams&);
extern template void binary_as<double>(BinaryOp, const Geometry&, void*, const void*,
                                       const void*, const ElementwiseParams&);
extern template void binary_as<BFloat16>(BinaryOp, const Geometry&, void*, const void*,
                                         const void*, const ElementwiseParams&);

}  // namespace nabla::kernels::cpu::detail
