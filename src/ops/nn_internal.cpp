// Helpers for the nn functional ops (see nn_internal.h).
#include "ops/nn_internal.h"

#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/copy.h"

namespace nabla::nn_detail {

Tensor dense(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor c = Tensor::empty(t.shape(), t.dtype());
  kernels::cpu::copy_strided(c.raw_data(), t.raw_data(), t.element_size(), t.shape().data(),
                             t.strides().data(), t.dim());
  return c;
}

DType compute_dtype(DType dtype) { return dtype == kBFloat16 ? kFloat32 : dtype; }

Tensor int64_indices(const char* op, const Tensor& indices, const char* name) {
  check_defined(op, indices, name);
  NABLA_CHECK_DTYPE(indices.dtype() == kInt64 || indices.dtype() == kInt32, op, ": expected ",
                    name, " of dtype int64 or int32, got ", indices.describe());
  const Tensor d = dense(indices);
  if (d.dtype() == kInt64) return d;
  Tensor out = Tensor::empty(d.shape(), kInt64);
  kernels::cpu::convert(out.raw_data(), kInt64, d.raw_data(), kInt32, d.numel());
  return out;
}

Tensor finish_loss(const Tensor& per_element, DType dtype, Reduction r, double count,
                   const Shape& shape) {
  Tensor out;
  if (r == Reduction::None) {
    out = Tensor::make_view(per_element.storage(), shape, contiguous_strides(shape),
                            per_element.offset(), per_element.dtype());
    if (dtype == out.dtype()) return out;
    Tensor conv = Tensor::empty(shape, dtype);
    kernels::cpu::convert(conv.raw_data(), dtype, out.raw_data(), out.dtype(), out.numel());
    return conv;
  }
  double total = 0;
  dispatch_floating(per_element.dtype(), "loss", [&](auto tag) {
    using CT = std::remove_pointer_t<decltype(tag)>;
    const CT* p = per_element.data<CT>();
    for (int64_t i = 0; i < per_element.numel(); ++i) total += static_cast<double>(p[i]);
  });
  if (r == Reduction::Mean) total /= count;
  out = Tensor::empty({}, dtype);
  kernels::cpu::fill(out.raw_data(), dtype, total, 1);
  return out;
}

}  // namespace nabla::nn_detail
