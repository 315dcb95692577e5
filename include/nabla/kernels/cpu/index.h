// Gathering and scattering rows: cat, index_select / index_add, gather / scatter_add, and the
// triangle masks. Tensors are seen as (outer, dim, inner) blocks of contiguous memory, so the
// row-wise ones come down to memcpy. Indices are int64 and already bounds-checked by the op.
#pragma once

#include <cstddef>
#include <cstdint>

#include "nabla/core/dtype.h"

namespace nabla::kernels::cpu {

/// dst (outer, sum of row_bytes) <- the n sources, each (outer, row_bytes[i]) contiguous,
/// side by side: the memory layout of cat along a dim.
void cat_rows(void* dst, const void* const* srcs, const size_t* row_bytes, int64_t n, int64_t outer);

/// dst (outer, n_index, inner) <- src (outer, src_dim, inner) rows src[o, index[j], :].
void index_select_rows(void* dst, const void* src, const int64_t* index, int64_t n_index,
                       int64_t outer, int64_t src_dim, int64_t inner, size_t elem_size);

/// grad (outer, grad_dim, inner) += dy (outer, n_index, inner) at rows index[j], in index
/// order (deterministic: repeated indices add up in a fixed order). Floating dtypes.
void index_add_rows(void* grad, const void* dy, const int64_t* index, int64_t n_index,
                    int64_t outer, int64_t grad_dim, int64_t inner, DType dtype);

/// dst (contiguous, shape sizes) <- src at index[...] along dim: the elements of src laid out
/// by src_strides, with index (contiguous, shape sizes) replacing the coordinate along dim.
void gather(void* dst, const void* src, const int64_t* src_strides, const int64_t* index,
            const int64_t* sizes, int64_t ndim, int64_t dim, size_t elem_size);

/// grad (contiguous, strides grad_strides) += dy (contiguous, shape sizes) scattered along dim
/// by index (contiguous, shape sizes), in element order (deterministic). Floating dtypes.
void scatter_add(void* grad, const int64_t* grad_strides, const void* dy, const int64_t* index,
                 const int64_t* sizes, int64_t ndim, int64_t dim, DType dtype);

/// dst (batch, rows, cols) contiguous <- src where element (b, r, c) sits at
/// batch_offsets[b] + r + c * col_stride: a matrix transposed in memory (.t(), .mT()). Copies
/// 32 x 32 tiles so both sides stay in cache (a row-by-row strided copy misses on every read).
void copy_transposed(void* dst, const void* src, const int64_t* batch_offsets, int64_t batch,
                     int64_t rows, int64_t cols, int64_t col_stride, size_t elem_size);

/// x (batch, rows, cols) contiguous: zeroes the elements above (lower = true, tril) or below
/// (triu) diagonal `diagonal` in place.
void triangle_mask(void* x, int64_t batch, int64_t rows, int64_t cols, int64_t diagonal, bool lower,
                   size_t elem_size);

}  // namespace nabla::kernels::cpu
