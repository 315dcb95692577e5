// Weights stored for inference in fewer bytes: bf16, or int8 in blocks of 32 with an f32 scale
// per block (llama.cpp's Q8_0). Decoding streams every weight once per token, so fewer bytes
// per weight is speed. The f32 activations are not quantized.
#pragma once

#include <string_view>

#include "nabla/core/tensor.h"

namespace nabla {

enum class WeightFormat { F32, BF16, Q8 };

/// "f32", "bf16", "int8".
std::string_view weight_format_name(WeightFormat f);
/// Parses "f32", "bf16" or "int8" (also "q8"); throws nabla::Error naming the others.
WeightFormat weight_format_from_name(std::string_view name);

/// A weight matrix (out_features, in_features) in bf16 or Q8, immutable once packed.
class PackedWeight {
 public:
  /// Packs a 2-D floating tensor (converted to f32 first; values must be finite). F32 is not a
  /// packed format (keep the Tensor).
  static PackedWeight pack(const Tensor& weight, WeightFormat format);

  WeightFormat format() const { return format_; }
  int64_t out_features() const { return out_; }
  int64_t in_features() const { return in_; }
  /// Bytes held (codes plus scales).
  int64_t nbytes() const;
  /// The f32 weights this stands for (out_features, in_features).
  Tensor unpack() const;

  /// bf16: (out, in) bf16. Q8: (out, in) u8 holding the int8 codes' bytes.
  const Tensor& data() const { return data_; }
  /// Q8: (out, ceil(in / 32)) f32; undefined for bf16.
  const Tensor& scales() const { return scales_; }

 private:
  PackedWeight() = default;
  WeightFormat format_ = WeightFormat::BF16;
  int64_t out_ = 0, in_ = 0;
  Tensor data_, scales_;
};

/// y = x W^T + b with W packed: x f32 (..., in), bias f32 (out) or undefined. Up to 8 rows go
/// through kernels::cpu::gemv_rows_bf16/_q8 (bitwise linear() on the unpacked weights); more
/// rows unpack W once and run one GEMM. Differentiable in x and bias (a frozen packed base
/// under a LoRA adapter trains); W gets no gradient.
Tensor linear(const Tensor& x, const PackedWeight& weight, const Tensor& bias = Tensor());

}  // namespace nabla
