// Helpers for the element-wise op tests: tensors from values, transposed views, uniform
// random tensors, and naive double-precision references with NumPy broadcasting.
#pragma once

#include <cstring>
#include <functional>
#include <vector>

#include "nabla/autograd/node.h"
#include "nabla/core/tensor.h"
#include "nabla/kernels/cpu/copy.h"
#include "tests/testing/gradcheck.h"

namespace nabla::testing {

inline Tensor from_values(const Shape& shape, const std::vector<double>& values,
                          DType dtype = kFloat64) {
  Tensor f = Tensor::empty(shape, kFloat64);
  NABLA_ASSERT(static_cast<int64_t>(values.size()) == f.numel(), "values for ", shape);
  std::memcpy(f.data<double>(), values.data(), values.size() * sizeof(double));
  if (dtype == kFloat64) return f;
  Tensor out = Tensor::empty(shape, dtype);
  kernels::cpu::convert(out.raw_data(), dtype, f.raw_data(), kFloat64, f.numel());
  return out;
}

inline Tensor transposed_copy(const Tensor& t) {
  NABLA_ASSERT(t.dim() == 2, "transposed_copy needs 2-D");
  const int64_t r = t.size(0);
  const int64_t c = t.size(1);
  const std::vector<double> v = t.to_vector();
  std::vector<double> tv(v.size());
  for (int64_t i = 0; i < r; ++i) {
    for (int64_t j = 0; j < c; ++j) tv[static_cast<size_t>(j * r + i)] = v[static_cast<size_t>(i * c + j)];
  }
  Tensor base = from_values({c, r}, tv, t.dtype());
  return Tensor::make_view(base.storage(), {r, c}, {1, r}, 0, t.dtype());
}

/// A transposed (non-contiguous) view of 2-D t that autograd sees through, so gradcheck can
/// feed non-contiguous inputs to an op without depending on the views ops.
inline Tensor transpose2d(const Tensor& t) {
  const int64_t r = t.size(0);
  const int64_t c = t.size(1);
  Tensor v = Tensor::make_view(t.storage(), {c, r}, {t.stride(1), t.stride(0)}, t.offset(), t.dtype());
  return autograd::record("transpose_for_test", v, {t}, [r, c](const Tensor& dy, autograd::Grads& g) {
    Tensor dx = Tensor::empty({r, c}, dy.dtype());
    const int64_t sizes[2] = {r, c};
    const int64_t strides[2] = {1, r};  // dy is (c, r) contiguous
    kernels::cpu::copy_strided(dx.raw_data(), dy.raw_data(), dy.element_size(), sizes, strides, 2);
    g.add(0, dx);
  });
}

inline Tensor uniform(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0,
                      DType dtype = kFloat64) {
  Tensor t = random_input(shape, seed, lo, hi, false);
  return dtype == kFloat64 ? t : from_values(shape, t.to_vector(), dtype);
}

namespace detail {

// The element of t (right-aligned, broadcast) at the output multi-index idx.
inline double at_broadcast(const Tensor& t, const Shape& idx) {
  Shape ti(static_cast<size_t>(t.dim()));
  const size_t lead = idx.size() - ti.size();
  for (size_t i = 0; i < ti.size(); ++i) ti[i] = t.shape()[i] == 1 ? 0 : idx[lead + i];
  return t.at(ti);
}

template <typename F>
Tensor reference_impl(const Shape& shape, const F& f) {
  Tensor out = Tensor::empty(shape, kFloat64);
  Shape idx(shape.size(), 0);
  double* p = out.data<double>();
  for (int64_t n = 0; n < out.numel(); ++n) {
    p[n] = f(idx);
    for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0 && ++idx[i] == shape[i]; --i) {
      idx[i] = 0;
    }
  }
  return out;
}

}  // namespace detail

inline Tensor reference(const Tensor& a, const Tensor& b,
                        const std::function<double(double, double)>& f) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "reference");
  return detail::reference_impl(shape, [&](const Shape& idx) {
    return f(detail::at_broadcast(a, idx), detail::at_broadcast(b, idx));
  });
}

inline Tensor reference(const Tensor& a, const std::function<double(double)>& f) {
  return detail::reference_impl(a.shape(), [&](const Shape& idx) { return f(a.at(idx)); });
}

}  // namespace nabla::testing
