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

void gather(void* dst, const void* src, const int64_t* src_strides, const int64_t* index,
            const int64_t* sizes, int64_t ndim, int64_t dim, size_t elem_size) {
  int64_t n = 1;
  for (int64_t d = 0; d < ndim; ++d) n *= sizes[d];
  auto* out = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
#pragma omp parallel for if (n > (1 << 15)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    int64_t unused = 0;
    const int64_t off = offset_of(i, sizes, src_strides, ndim, dim, &unused) +
                        index[i] * src_strides[dim];
    std::memcpy(out + static_cast<size_t>(i) * elem_size, s + off * static_cast<int64_t>(elem_size),
                elem_size);
  }
}

void scatter_add(void* grad, const int64_t* grad_strides, const void* dy, const int64_t* index,
                 const int64_t* sizes, int64_t ndim, int64_t dim, DType dtype) {
  int64_t n = 1;
  for (int64_t d = 0; d < ndim; ++d) n *= sizes[d];
  dispatch_grad(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* g = static_cast<T*>(grad);
    const T* y = static_cast<const T*>(dy);
    // Sequential: different elements may hit the same gradient slot.
    for (int64_t i = 0; i < n; ++i) {
      int64_t unused = 0;
      const int64_t off = offset_of(i, sizes, grad_strides, ndim, dim, &unused) +
                          index[i] * grad_strides[dim];
      add_row(g + off, y + i, 1);
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
