// IEEE 754 binary16 (half precision) to f32: safetensors files often store F16, which nabla
// has no dtype for, so loaders widen it to f32 (exactly: every f16 value is an f32 value).
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

/// dst[i] = (float) src[i] for n contiguous f16 bit patterns; subnormals, infinities and NaNs
/// (payload kept) convert exactly.
void f16_to_f32(float* dst, const uint16_t* src, int64_t n);

}  // namespace nabla::kernels::cpu
