// Copies and conversions. Strided copies walk the outer dims with an index vector and copy
// the innermost dim in a tight loop; large copies split the outer dims across threads.
#include "nabla/kernels/cpu/copy.h"

#include <cstring>
#include <vector>

#include "nabla/core/dispatch.h"
#include "nabla/core/error.h"

namespace nabla::kernels::cpu {

namespace {

template <typename T>
void copy_rows(T* dst, const int64_t* dst_strides, const T* src, const int64_t* src_strides,
               const int64_t* sizes, int64_t ndim, bool dst_contiguous) {
  if (ndim == 0) {
    *dst = *src;
    return;
  }
  const int64_t inner = sizes[ndim - 1];
  const int64_t ss = src_strides[ndim - 1];
  const int64_t ds = dst_contiguous ? 1 : dst_strides[ndim - 1];
  int64_t outer = 1;
  for (int64_t i = 0; i + 1 < ndim; ++i) outer *= sizes[i];
  if (outer == 0 || inner == 0) return;
#pragma omp parallel for if (outer * inner > (1 << 16)) schedule(static)
  for (int64_t row = 0; row < outer; ++row) {
    int64_t so = 0;
    int64_t dof = dst_contiguous ? row * inner : 0;
    int64_t rem = row;
    for (int64_t i = ndim - 2; i >= 0; --i) {
      const int64_t idx = rem % sizes[i];
      rem /= sizes[i];
      so += idx * src_strides[i];
      if (!dst_contiguous) dof += idx * dst_strides[i];
    }
    const T* s = src + so;
    T* d = dst + dof;
    if (ss == 1 && ds == 1) {
      std::memcpy(d, s, static_cast<size_t>(inner) * sizeof(T));
    } else {
      for (int64_t j = 0; j < inner; ++j) d[j * ds] = s[j * ss];
    }
  }
}

template <typename Fn>
void dispatch_size(size_t elem_size, Fn&& fn) {
  switch (elem_size) {
    case 1: fn(uint8_t{}); return;
    case 2: fn(uint16_t{}); return;
    case 4: fn(uint32_t{}); return;
    case 8: fn(uint64_t{}); return;
    default: NABLA_ASSERT(false, "unsupported element size ", elem_size);
  }
}

template <typename D, typename S>
void convert_typed(D* dst, const S* src, int64_t n) {
#pragma omp parallel for if (n > (1 << 16)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<D, bool>) {
      dst[i] = static_cast<float>(src[i]) != 0.0f;
    } else if constexpr (std::is_same_v<D, BFloat16>) {
      dst[i] = BFloat16(static_cast<float>(src[i]));
    } else if constexpr (std::is_same_v<S, BFloat16>) {
      dst[i] = static_cast<D>(static_cast<float>(src[i]));
    } else {
      dst[i] = static_cast<D>(src[i]);
    }
  }
}

}  // namespace

void copy_strided(void* dst, const void* src, size_t elem_size, const int64_t* sizes,
                  const int64_t* src_strides, int64_t ndim) {
  dispatch_size(elem_size, [&](auto tag) {
    using T = decltype(tag);
    copy_rows(static_cast<T*>(dst), nullptr, static_cast<const T*>(src), src_strides, sizes, ndim,
              true);
  });
}

void copy_strided_to_strided(void* dst, const int64_t* dst_strides, const void* src,
                             const int64_t* src_strides, size_t elem_size, const int64_t* sizes,
                             int64_t ndim) {
  dispatch_size(elem_size, [&](auto tag) {
    using T = decltype(tag);
    copy_rows(static_cast<T*>(dst), dst_strides, static_cast<const T*>(src), src_strides, sizes,
              ndim, false);
  });
}

void convert(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n) {
  if (dst_dtype == src_dtype) {
    std::memcpy(dst, src, static_cast<size_t>(n) * element_size(dst_dtype));
    return;
  }
  dispatch_dtype(dst_dtype, [&](auto* dtag) {
    using D = std::remove_pointer_t<decltype(dtag)>;
    dispatch_dtype(src_dtype, [&](auto* stag) {
      using S = std::remove_pointer_t<decltype(stag)>;
      convert_typed(static_cast<D*>(dst), static_cast<const S*>(src), n);
    });
  });
}

void add_inplace(void* dst, const void* src, DType dtype, int64_t n) {
  dispatch_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if constexpr (std::is_same_v<T, bool>) {
      NABLA_ASSERT(false, "add_inplace on bool");
    } else {
      T* d = static_cast<T*>(dst);
      const T* s = static_cast<const T*>(src);
#pragma omp parallel for simd if (n > (1 << 16)) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<T, BFloat16>) {
          d[i] = BFloat16(static_cast<float>(d[i]) + static_cast<float>(s[i]));
        } else {
          d[i] = static_cast<T>(d[i] + s[i]);
        }
      }
    }
  });
}

void fill(void* dst, DType dtype, double value, int64_t n) {
  dispatch_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T v;
    if constexpr (std::is_same_v<T, bool>) {
      v = value != 0.0;
    } else if constexpr (std::is_same_v<T, BFloat16>) {
      v = BFloat16(static_cast<float>(value));
    } else {
      v = static_cast<T>(value);
    }
    T* d = static_cast<T*>(dst);
#pragma omp parallel for if (n > (1 << 16)) schedule(static)
    for (int64_t i = 0; i < n; ++i) d[i] = v;
  });
}

}  // namespace nabla::kernels::cpu
