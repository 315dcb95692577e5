// Raw geometry helpers for ops that hand buffers to kernels: views and dense copies made
// outside the graph (the op records its own node on its real inputs).
#pragma once

#include "nabla/core/tensor.h"
#include "nabla/kernels/cpu/copy.h"

namespace nabla::ops_detail {

/// A view of t's storage with the given geometry; offset is relative to t's. No autograd.
inline Tensor raw_view(const Tensor& t, const Shape& sizes, const Shape& strides,
                       int64_t offset = 0) {
  return Tensor::make_view(t.storage(), sizes, strides, t.offset() + offset, t.dtype());
}

/// t's elements in row-major order: t itself (detached) when contiguous, else a copy.
inline Tensor dense(const Tensor& t) {
  if (t.is_contiguous()) return t.detach();
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  kernels::cpu::copy_strided(out.raw_data(), t.raw_data(), t.element_size(), t.shape().data(),
                             t.strides().data(), t.dim());
  return out;
}

/// A contiguous tensor of `shape` whose elements are src broadcast by `strides` (0 repeats).
inline Tensor materialize(const Tensor& src, const Shape& shape, const Shape& strides) {
  Tensor out = Tensor::empty(shape, src.dtype());
  kernels::cpu::copy_strided(out.raw_data(), src.raw_data(), src.element_size(), shape.data(),
                             strides.data(), static_cast<int64_t>(shape.size()));
  return out;
}

}  // namespace nabla::ops_detail
