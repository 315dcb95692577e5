// Unary element-wise kernels: one switch over the op per dtype, each case a lambda in the
// compute type handed to the strided loop. Formulas follow PyTorch's CPU kernels
// (aten/src/ATen/native/cpu/UnaryOpsKernel.cpp, Activation.cpp) so results agree closely.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/cpu/elementwise_loop.h"
#include "kernels/cpu/vec_math.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/elementwise.h"

namespace nabla::kernels::cpu {

namespace {

using detail::int_pow;
using detail::map1;

// A clamp bound in C; integer types saturate (an absent bound is +-inf).
template <typename C>
C bound(double v) {
  if constexpr (std::is_floating_point_v<C>) {
    return static_cast<C>(v);
  } else {
    if (!(v < static_cast<double>(std::numeric_limits<C>::max()))) return std::numeric_limits<C>::max();
    if (v <= static_cast<double>(std::numeric_limits<C>::lowest())) return std::numeric_limits<C>::lowest();
    return static_cast<C>(v);
  }
}

// x ^ e with PyTorch's special cases for common exponents (pow_tensor_scalar_optimized_kernel).
template <typename T>
void pow_scalar(const Geometry& g, void* out, const void* in, double e) {
  using C = compute_t<T>;
  if constexpr (std::is_floating_point_v<C>) {
    const C ce = static_cast<C>(e);
    if (e == 2.0) return map1<T, T>(g, out, in, [](C x) { return x * x; });
    if (e == 3.0) return map1<T, T>(g, out, in, [](C x) { return x * x * x; });
    if (e == 0.5) return map1<T, T>(g, out, in, [](C x) { return std::sqrt(x); });
    if (e == -0.5) return map1<T, T>(g, out, in, [](C x) { return C(1) / std::sqrt(x); });
    if (e == -1.0) return map1<T, T>(g, out, in, [](C x) { return C(1) / x; });
    if (e == -2.0) return map1<T, T>(g, out, in, [](C x) { return C(1) / (x * x); });
    map1<T, T>(g, out, in, [ce](C x) { return std::pow(x, ce); });
  } else {
    const auto ce = static_cast<C>(e);
    map1<T, T>(g, out, in, [ce](C x) { return int_pow<C>(x, ce); });
  }
}

template <typename T>
void floating_unary(UnaryOp op, const Geometry& g, void* out, const void* in) {
  using C = compute_t<T>;
  constexpr C kAlpha = C(M_SQRT1_2);
  constexpr C kBeta = C(M_SQRT2 * M_2_SQRTPI * 0.5);
  constexpr C kKappa = C(0.044715);
  constexpr bool kFast = std::is_same_v<C, float>;  // vectorised f32 math (vec_math.h)
  switch (op) {
    case UnaryOp::kExp: return map1<T, T>(g, out, in, [](C x) { return std::exp(x); });
    case UnaryOp::kLog: return map1<T, T>(g, out, in, [](C x) { return std::log(x); });
    case UnaryOp::kSqrt: return map1<T, T>(g, out, in, [](C x) { return std::sqrt(x); });
    case UnaryOp::kRsqrt: return map1<T, T>(g, out, in, [](C x) { return C(1) / std::sqrt(x); });
    case UnaryOp::kTanh: return map1<T, T>(g, out, in, [](C x) { return std::tanh(x); });
    case UnaryOp::kSigmoid:
      if constexpr (kFast) return map1<T, T>(g, out, in, [](C x) { return detail::sigmoid_f32(x); });
      return map1<T, T>(g, out, in, [](C x) { return C(1) / (C(1) + std::exp(-x)); });
    case UnaryOp::kGelu:
      if constexpr (kFast) {
        return map1<T, T>(g, out, in, [=](C x) {
          return x * C(0.5) * detail::one_plus_erf_f32(x * kAlpha);
        });
      }
      return map1<T, T>(g, out, in, [=](C x) {
        return x * C(0.5) * (C(1) + std::erf(x * kAlpha));
      });
    case UnaryOp::kGeluTanh:
      // 0.5 x (1 + tanh(u)) = x sigmoid(2u): the same value without cancellation for x << 0.
      if constexpr (kFast) {
        return map1<T, T>(g, out, in, [=](C x) {
          const C inner = kBeta * (x + kKappa * x * x * x);
          return x * detail::sigmoid_f32(C(2) * inner);
        });
      }
      return map1<T, T>(g, out, in, [=](C x) {
        const C inner = kBeta * (x + kKappa * x * x * x);
        return C(0.5) * x * (C(1) + std::tanh(inner));
      });
    case UnaryOp::kSilu:
      if constexpr (kFast) return map1<T, T>(g, out, in, [](C x) { return x * detail::sigmoid_f32(x); });
      return map1<T, T>(g, out, in, [](C x) { return x / (C(1) + std::exp(-x)); });
    default: break;
  }
  NABLA_ASSERT(false, "unary op ", static_cast<int>(op), " is not a floating op");
}

template <typename T>
void any_unary(UnaryOp op, const Geometry& g, void* out, const void* in,
               const ElementwiseParams& p) {
  using C = compute_t<T>;
  switch (op) {
    case UnaryOp::kNeg: return map1<T, T>(g, out, in, [](C x) { return -x; });
    case UnaryOp::kAbs:
      return map1<T, T>(g, out, in, [](C x) {
        if constexpr (std::is_unsigned_v<C>) {
          return x;
        } else {
          return x < C(0) ? C(-x) : x;
        }
      });
    case UnaryOp::kRelu:  // x < 0 ? 0 : x keeps NaN, as torch.relu does
      return map1<T, T>(g, out, in, [](C x) { return x < C(0) ? C(0) : x; });
    case UnaryOp::kClamp: {
      // NaN in x stays NaN (both comparisons are false); min > max gives max, as in PyTorch.
      // Ternaries rather than std::min/max, which block vectorisation.
      const C lo = bound<C>(p.lo);
      const C hi = bound<C>(p.hi);
      return map1<T, T>(g, out, in, [=](C x) {
        const C t = x < lo ? lo : x;
        return t > hi ? hi : t;
      });
    }
    case UnaryOp::kPowScalar: return pow_scalar<T>(g, out, in, p.exponent);
    default: break;
  }
  if constexpr (std::is_floating_point_v<C>) {
    floating_unary<T>(op, g, out, in);
  } else {
    NABLA_ASSERT(false, "unary op ", static_cast<int>(op), " on an integer dtype");
  }
}

}  // namespace

void unary(UnaryOp op, DType dtype, const Geometry& g, void* out, const void* in,
           const ElementwiseParams& p) {
  dispatch_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if constexpr (std::is_same_v<T, bool>) {
      NABLA_ASSERT(false, "unary op ", static_cast<int>(op), " on bool");
    } else {
      any_unary<T>(op, g, out, in, p);
    }
  });
}

}  // namespace nabla::kernels::cpu
