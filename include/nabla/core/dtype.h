// Element types. Names print as PyTorch prints them (torch.float32, ...).
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>

#include "nabla/core/bf16.h"

namespace nabla {

enum class DType : uint8_t { F32, F64, BF16, I32, I64, U8, Bool };

constexpr DType kFloat32 = DType::F32;
constexpr DType kFloat64 = DType::F64;
constexpr DType kBFloat16 = DType::BF16;
constexpr DType kInt32 = DType::I32;
constexpr DType kInt64 = DType::I64;
constexpr DType kUInt8 = DType::U8;
constexpr DType kBool = DType::Bool;

/// Bytes per element.
size_t element_size(DType t);
/// "torch.float32", "torch.int64", ...
std::string_view dtype_name(DType t);
/// Short name used in file formats and CLI flags: "f32", "bf16", "i64", ...
std::string_view dtype_short_name(DType t);
/// Parses a short name ("f32", "bf16", "f64", "i32", "i64", "u8", "bool"); throws on others.
DType dtype_from_short_name(std::string_view name);
inline bool is_floating(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::BF16; }
inline bool is_integral(DType t) { return !is_floating(t); }
/// The dtype of a binary op's result (PyTorch's promotion among tensors of these dtypes).
DType promote_types(DType a, DType b);

std::ostream& operator<<(std::ostream& os, DType t);

/// Maps a C++ element type to its DType: dtype_of<float>() == DType::F32.
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::F32; }
template <>
constexpr DType dtype_of<double>() { return DType::F64; }
template <>
constexpr DType dtype_of<BFloat16>() { return DType::BF16; }
template <>
constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <>
constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <>
constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <>
constexpr DType dtype_of<bool>() { return DType::Bool; }

}  // namespace nabla
