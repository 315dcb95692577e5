// Dtype dispatch: calls fn with a null pointer of the C++ element type, so the body can say
// `using T = std::remove_pointer_t<decltype(tag)>;`. One switch per op, as DESIGN.md asks.
#pragma once

#include <type_traits>

#include "nabla/core/dtype.h"
#include "nabla/core/error.h"

namespace nabla {

/// Any dtype.
template <typename Fn>
decltype(auto) dispatch_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::F32: return fn(static_cast<float*>(nullptr));
    case DType::F64: return fn(static_cast<double*>(nullptr));
    case DType::BF16: return fn(static_cast<BFloat16*>(nullptr));
    case DType::I32: return fn(static_cast<int32_t*>(nullptr));
    case DType::I64: return fn(static_cast<int64_t*>(nullptr));
    case DType::U8: return fn(static_cast<uint8_t*>(nullptr));
    case DType::Bool: return fn(static_cast<bool*>(nullptr));
  }
  NABLA_ASSERT(false, "unknown dtype ", static_cast<int>(t));
}

/// f32, f64 and bf16; anything else throws a DTypeError naming op.
template <typename Fn>
decltype(auto) dispatch_floating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::F32: return fn(static_cast<float*>(nullptr));
    case DType::F64: return fn(static_cast<double*>(nullptr));
    case DType::BF16: return fn(static_cast<BFloat16*>(nullptr));
    default: break;
  }
  NABLA_CHECK_DTYPE(false, op, ": expected a floating-point tensor (float32, float64 or bfloat16), got ", t);
  return fn(static_cast<float*>(nullptr));
}

/// The type arithmetic happens in: f32 for bf16, the type itself otherwise.
template <typename T>
using compute_t = std::conditional_t<std::is_same_v<T, BFloat16>, float, T>;

}  // namespace nabla
