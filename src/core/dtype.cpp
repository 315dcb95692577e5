// DType names and promotion.
#include "nabla/core/dtype.h"

#include "nabla/core/error.h"

namespace nabla {

size_t element_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
    case DType::Bool: return 1;
  }
  NABLA_ASSERT(false, "unknown dtype ", static_cast<int>(t));
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "torch.float32";
    case DType::F64: return "torch.float64";
    case DType::BF16: return "torch.bfloat16";
    case DType::I32: return "torch.int32";
    case DType::I64: return "torch.int64";
    case DType::U8: return "torch.uint8";
    case DType::Bool: return "torch.bool";
  }
  NABLA_ASSERT(false, "unknown dtype ", static_cast<int>(t));
}

std::string_view dtype_short_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::BF16: return "bf16";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U8: return "u8";
    case DType::Bool: return "bool";
  }
  NABLA_ASSERT(false, "unknown dtype ", static_cast<int>(t));
}

DType dtype_from_short_name(std::string_view name) {
  for (DType t : {DType::F32, DType::F64, DType::BF16, DType::I32, DType::I64, DType::U8,
                  DType::Bool}) {
    if (dtype_short_name(t) == name) return t;
  }
  NABLA_CHECK_DTYPE(false, "unknown dtype '", name, "' (expected f32, f64, bf16, i32, i64, u8 or bool)");
  return DType::F32;
}

// PyTorch's rules for two tensors: floating beats integral; among floats the wider wins
// (bf16 < f32 < f64); among integers the wider wins; bool is below everything.
DType promote_types(DType a, DType b) {
  if (a == b) return a;
  auto rank = [](DType t) {
    switch (t) {
      case DType::Bool: return 0;
      case DType::U8: return 1;
      case DType::I32: return 2;
      case DType::I64: return 3;
      case DType::BF16: return 4;
      case DType::F32: return 5;
      case DType::F64: return 6;
    }
    return 0;
  };
  return rank(a) > rank(b) ? a : b;
}

std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

}  // namespace nabla
