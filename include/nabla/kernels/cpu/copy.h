// Copies and dtype conversion over raw buffers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "nabla/core/dtype.h"

namespace nabla::kernels::cpu {

/// dst (contiguous, numel elements of elem_size bytes) <- src laid out by sizes/strides
/// (in elements, ndim of them). Stride 0 broadcasts.
void copy_strided(void* dst, const void* src, size_t elem_size, const int64_t* sizes,
                  const int64_t* src_strides, int64_t ndim);

/// dst laid out by sizes/dst_strides <- src laid out by sizes/src_strides; same dtype.
void copy_strided_to_strided(void* dst, const int64_t* dst_strides, const void* src,
                             const int64_t* src_strides, size_t elem_size, const int64_t* sizes,
                             int64_t ndim);

/// dst[i] = (dst_dtype) src[i] for n contiguous elements. Float to integer truncates toward
/// zero; anything to bool is (x != 0); f32 to bf16 rounds to nearest even.
void convert(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n);

/// dst[i] += src[i] for n contiguous elements of a floating dtype (f32, f64, bf16).
void add_inplace(void* dst, const void* src, DType dtype, int64_t n);

/// Fills n contiguous elements of dtype with value (converted like convert()).
void fill(void* dst, DType dtype, double value, int64_t n);

}  // namespace nabla::kernels::cpu
