// Row gathers and scatters for cat, index_select, gather and their backwards. Scatters run in
// a fixed order per output block (parallel only over disjoint outer blocks), so repeated
// indices sum bitwise the same for any thread count.
#include "nabla/kernels/cpu/index.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kParallelBytes = int64_t{1} << 17;

template <typename T>
void add_row(T* dst, const T* src, int64_t n) {
  if constexpr (std::is_same_v<T, BFloat16>) {
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = BFloat16(static_cast<float>(dst[i]) + static_cast<float>(src[i]));
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
  }
}

template <typename Fn>
void dispatch_grad(DType t, Fn&& fn) {
  switch (t) {
    case DType::F32: fn(static_cast<float*>(nullptr)); return;
    case DType::F64: fn(static_cast<double*>(nullptr)); return;
    case DType::BF16: fn(static_cast<BFloat16*>(nullptr)); return;
    default: NABLA_ASSERT(false, "index kernels: gradient of dtype ", t);
  }
}

template <typename Fn>
void dispatch_size(size_t elem_size, Fn&& fn) {
  switch (elem_size) {
    case 1: fn(uint8_t{}); return;
    case 2: fn(uint16_t{}); return;
    case 4: fn(uint32_t{}); return;
    case 8: fn(uint64_t{}); return;
    default: NABLA_ASSERT(false, "index kernels: element size ", elem_size);
  }
}

// Offset of element `flat` (row-major over sizes) under strides, and its coordinate on dim.
inline int64_t offset_of(int64_t flat, const int64_t* sizes, const int64_t* strides, int64_t ndim,
                         int64_t skip_dim, int64_t* coord_on_skip) {
  int64_t off = 0;
  for (int64_t d = ndim - 1; d >= 0; --d) {
    const int64_t c = flat % sizes[d];
    flat /= sizes[d];
    if (d == skip_dim) {
      *coord_on_skip = c;
    } else {
      off += c * strides[d];
    }
  }
  return off;
}

}  // namespace

void cat_rows(void* dst, const void* const* srcs, const size_t* row_bytes, int64_t n, int64_t outer) {
  size_t total = 0;
  for (int64_t i = 0; i < n; ++i) total += row_bytes[i];
  auto* d = static_cast<char*>(dst);
#pragma omp parallel for if (static_cast<int64_t>(total) * outer > kParallelBytes) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    char* row = d + static_cast<size_t>(o) * total;
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(row, static_cast<const char*>(srcs[i]) + static_cast<size_t>(o) * row_bytes[i],
                  row_bytes[i]);
      row += row_bytes[i];
    }
  }
}

void index_select_rows(void* dst, const void* src, const int64_t* index, int64_t n_index,
                       int64_t outer, int64_t src_dim, int64_t inner, size_t elem_size) {
  const size_t row = static_cast<size_t>(inner) * elem_size;
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  const int64_t rows = outer * n_index;
#pragma omp parallel for if (rows * static_cast<int64_t>(row) > kParallelBytes) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / n_index, j = r % n_index;
    std::memcpy(d + static_cast<size_t>(r) * row,
                s + static_cast<size_t>(o * src_dim + index[j]) * row, row);
  }
}

void index_add_rows(void* grad, const void* dy, const int64_t* index, int64_t n_index,
                    int64_t outer, int64_t grad_dim, int64_t inner, DType dtype) {
  dispatch_grad(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* g = static_cast<T*>(grad);
    const T* y = static_cast<const T*>(dy);
#pragma omp parallel for if (outer > 1 && outer * n_index * inner > (1 << 15)) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < n_index; ++j) {
        add_row(g + (o * grad_dim + index[j]) * inner, y + (o * n_index + j) * inner, inner);
      }
    }
  });
}

// Both walk rows of the last dim: the offset of a row's start is decoded once, then each
// element adds j * last stride (unless the last dim is the indexed one) + index * dim stride.
void gather(void* dst, const void* src, const int64_t* src_strides, const int64_t* index,
            const int64_t* sizes, int64_t ndim, int64_t dim, size_t elem_size) {
  const int64_t inner = sizes[ndim - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < ndim; ++d) rows *= sizes[d];
  const int64_t step = dim == ndim - 1 ? 0 : src_strides[ndim - 1];
  const int64_t dstride = src_strides[dim];
  dispatch_size(elem_size, [&](auto tag) {
    using T = decltype(tag);
    T* out = static_cast<T*>(dst);
    const T* s = static_cast<const T*>(src);
#pragma omp parallel for if (rows * inner > (1 << 15)) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t unused = 0;
      const int64_t base = offset_of(r, sizes, src_strides, ndim - 1, dim, &unused);
      const int64_t* ix = index + r * inner;
      T* o = out + r * inner;
      for (int64_t j = 0; j < inner; ++j) o[j] = s[base + j * step + ix[j] * dstride];
    }
  });
}

void scatter_add(void* grad, const int64_t* grad_strides, const void* dy, const int64_t* index,
                 const int64_t* sizes, int64_t ndim, int64_t dim, DType dtype) {
  const int64_t inner = sizes[ndim - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < ndim; ++d) rows *= sizes[d];
  const int64_t step = dim == ndim - 1 ? 0 : grad_strides[ndim - 1];
  const int64_t dstride = grad_strides[dim];
  dispatch_grad(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* g = static_cast<T*>(grad);
    const T* y = static_cast<const T*>(dy);
    // Sequential: different elements may hit the same gradient slot.
    for (int64_t r = 0; r < rows; ++r) {
      int64_t unused = 0;
      const int64_t base = offset_of(r, sizes, grad_strides, ndim - 1, dim, &unused);
      const int64_t* ix = index + r * inner;
      const T* yr = y + r * inner;
      for (int64_t j = 0; j < inner; ++j) add_row(g + base + j * step + ix[j] * dstride, yr + j, 1);
    }
  });
}

void copy_transposed(void* dst, const void* src, const int64_t* batch_offsets, int64_t batch,
                     int64_t rows, int64_t cols, int64_t col_stride, size_t elem_size) {
  constexpr int64_t kTile = 32;
  const int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
  const int64_t tiles = batch * row_tiles * col_tiles;
  dispatch_size(elem_size, [&](auto tag) {
    using T = decltype(tag);
    T* out = static_cast<T*>(dst);
    const T* in = static_cast<const T*>(src);
#pragma omp parallel for if (batch * rows * cols > (1 << 15)) schedule(static)
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t b = tile / (row_tiles * col_tiles);
      const int64_t r0 = (tile / col_tiles) % row_tiles * kTile, c0 = tile % col_tiles * kTile;
      const int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      const T* s = in + batch_offsets[b];
      T* d = out + b * rows * cols;
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) d[r * cols + c] = s[r + c * col_stride];
      }
    }
  });
}

void triangle_mask(void* x, int64_t batch, int64_t rows, int64_t cols, int64_t diagonal, bool lower,
                   size_t elem_size) {
  auto* base = static_cast<char*>(x);
#pragma omp parallel for if (batch * rows * cols > (1 << 15)) schedule(static)
  for (int64_t r = 0; r < batch * rows; ++r) {
    const int64_t i = r % rows;
    char* row = base + static_cast<size_t>(r * cols) * elem_size;
    // tril keeps j <= i + diagonal; triu keeps j >= i + diagonal.
    const int64_t edge = i + diagonal;
    int64_t lo = 0, hi = 0;  // the zeroed range [lo, hi)
    if (lower) {
      lo = std::min(std::max<int64_t>(edge + 1, 0), cols);
      hi = cols;
    } else {
      hi = std::min(std::max<int64_t>(edge, 0), cols);
    }
    if (hi > lo) std::memset(row + lo * static_cast<int64_t>(elem_size), 0, static_cast<size_t>(hi - lo) * elem_size);
  }
}

}  // namespace nabla::kernels::cpu
