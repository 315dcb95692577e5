// A differentiable strided view for op tests (so non-contiguous gradcheck cases do not depend
// on the view ops): forward views the input's storage, backward scatters dy back through the
// same strides. f64 only, as gradcheck is.
#pragma once

#include "nabla/autograd/node.h"
#include "nabla/ops/creation.h"

namespace nabla::testing {

/// x viewed with sizes/strides/offset (relative to x, in elements), recorded in the graph.
inline Tensor strided_view(const Tensor& x, const Shape& sizes, const Shape& strides,
                           int64_t offset = 0) {
  Tensor v = Tensor::make_view(x.storage(), sizes, strides, x.offset() + offset, x.dtype());
  const Shape xs = x.shape();
  return autograd::record("strided_view", v, {x}, [=](const Tensor& dy, autograd::Grads& g) {
    double* dx = g.ptr<double>(0);
    const double* d = dy.data<double>();
    Shape idx(sizes.size(), 0);
    for (int64_t n = 0; n < dy.numel(); ++n) {
      int64_t at = offset;
      for (size_t k = 0; k < sizes.size(); ++k) at += idx[k] * strides[k];
      dx[at] += d[n];
      for (int64_t k = static_cast<int64_t>(sizes.size()) - 1; k >= 0 && ++idx[k] == sizes[k]; --k) {
        idx[k] = 0;
      }
    }
  });
}

/// The 2-D transpose of x (last two dims swapped for higher ranks).
inline Tensor transposed(const Tensor& x) {
  Shape sizes = x.shape(), strides = x.strides();
  std::swap(sizes[sizes.size() - 1], sizes[sizes.size() - 2]);
  std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
  return strided_view(x, sizes, strides);
}

}  // namespace nabla::testing
