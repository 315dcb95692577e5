// Conversions and copies: to(dtype/device), clone, contiguous (differentiable), and the in-place
// writers copy_, zero_, fill_, uniform_, normal_.
#include <vector>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/kernels/cpu/copy.h"
#include "nabla/kernels/cpu/index.h"
#include "nabla/ops/creation.h"
#include "ops/internal.h"

namespace nabla {

using autograd::Grads;

namespace {

// src's strides when broadcast to shape (0 on broadcast dims); throws naming op.
Shape broadcast_strides(const Tensor& src, const Shape& shape, const char* op) {
  const auto nd = static_cast<int64_t>(shape.size());
  NABLA_CHECK_SHAPE(src.dim() <= nd, op, ": the size of src ", src.shape(),
                    " must be broadcastable to self's size ", shape);
  Shape strides(shape.size(), 0);
  for (int64_t i = 0; i < src.dim(); ++i) {
    const int64_t d = nd - src.dim() + i;
    const int64_t s = src.shape()[i];
    NABLA_CHECK_SHAPE(s == shape[d] || s == 1, op, ": the size of src ", src.shape(),
                      " must be broadcastable to self's size ", shape);
    strides[d] = s == 1 ? 0 : src.strides()[i];
  }
  return strides;
}

}  // namespace

namespace ops_detail {

Tensor dense_copy(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  const int64_t nd = t.dim();
  // (..., R, C) with stride 1 on R and a larger stride on C: a transposed matrix.
  if (nd >= 2 && t.numel() > 0 && t.stride(-2) == 1 && t.stride(-1) > 1 && t.size(-2) > 1) {
    const int64_t rows = t.size(-2), cols = t.size(-1);
    Shape outer(t.shape().begin(), t.shape().end() - 2);
    const int64_t batch = numel_of(outer);
    std::vector<int64_t> offsets(static_cast<size_t>(batch), 0);
    Shape idx(outer.size(), 0);
    for (int64_t b = 0; b < batch; ++b) {
      for (size_t i = 0; i < idx.size(); ++i) offsets[b] += idx[i] * t.strides()[i];
      for (auto i = static_cast<int64_t>(idx.size()) - 1; i >= 0 && ++idx[i] == outer[i]; --i) {
        idx[i] = 0;
      }
    }
    kernels::cpu::copy_transposed(out.raw_data(), t.raw_data(), offsets.data(), batch, rows, cols,
                                  t.stride(-1), t.element_size());
    return out;
  }
  kernels::cpu::copy_strided(out.raw_data(), t.raw_data(), t.element_size(), t.shape().data(),
                             t.strides().data(), nd);
  return out;
}

void check_inplace(const char* op, const Tensor& t) {
  if (!autograd::is_grad_enabled() || !t.requires_grad()) return;
  NABLA_CHECK(!t.is_leaf(), op,
              ": a leaf tensor that requires grad is being used in an in-place operation (wrap "
              "it in NoGradGuard, or call it on detach())");
  NABLA_CHECK(false, op, ": in-place operations on a tensor that requires grad are not supported "
              "by autograd here; use the out-of-place op (shape ", t.shape(), ")");
}

}  // namespace ops_detail

Tensor Tensor::to(DType dtype) const {
  if (dtype == this->dtype()) return *this;
  const Tensor src = is_contiguous() ? *this : ops_detail::dense_copy(*this);
  Tensor out = Tensor::empty(shape(), dtype);
  kernels::cpu::convert(out.raw_data(), dtype, src.raw_data(), this->dtype(), numel());
  if (!is_floating(dtype) || !is_floating_point()) return out;
  const DType src_dtype = this->dtype();
  return autograd::record("to", out, {*this}, [src_dtype](const Tensor& dy, Grads& g) {
    g.add(0, dy.to(src_dtype));
  });
}

Tensor Tensor::to(Device device) const {
  NABLA_CHECK_T(DeviceError, device.is_cpu(), "to: device ", device,
                " is not available (this build of nabla runs on cpu only)");
  return *this;
}

Tensor Tensor::clone() const {
  Tensor out = ops_detail::dense_copy(*this);
  if (!is_floating_point()) return out;
  return autograd::record("clone", out, {*this}, [](const Tensor& dy, Grads& g) { g.add(0, dy); });
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = ops_detail::dense_copy(*this);
  if (!is_floating_point()) return out;
  return autograd::record("contiguous", out, {*this},
                          [](const Tensor& dy, Grads& g) { g.add(0, dy); });
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_same_device("copy_", {{"self", *this}, {"src", src}});
  ops_detail::check_inplace("copy_", *this);
  NABLA_CHECK(!(autograd::is_grad_enabled() && src.requires_grad()),
              "copy_: src requires grad; copying it into another tensor is not tracked by "
              "autograd (use clone(), or detach() src)");
  Shape src_strides = broadcast_strides(src, shape(), "copy_");
  const void* src_data = src.raw_data();
  Tensor tmp;
  // Overlapping source (x.copy_(x.t())) or another dtype: go through a dense buffer.
  if (src.is_alias_of(*this) || src.dtype() != dtype()) {
    Tensor dense = Tensor::empty(shape(), src.dtype());
    kernels::cpu::copy_strided(dense.raw_data(), src.raw_data(), src.element_size(),
                               shape().data(), src_strides.data(), dim());
    tmp = Tensor::empty(shape(), dtype());
    kernels::cpu::convert(tmp.raw_data(), dtype(), dense.raw_data(), src.dtype(), numel());
    src_data = tmp.raw_data();
    src_strides = tmp.strides();
  }
  kernels::cpu::copy_strided_to_strided(raw_data(), strides().data(), src_data, src_strides.data(),
                                        element_size(), shape().data(), dim());
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

Tensor& Tensor::fill_(Scalar value) {
  ops_detail::check_inplace("fill_", *this);
  if (is_contiguous() && !(dtype() == kInt64 && value.is_integral())) {
    kernels::cpu::fill(raw_data(), dtype(), value.to_double(), numel());
    storage()->bump_version();
    return *this;
  }
  NoGradGuard no_grad;
  return copy_(full({}, value, dtype()));
}

Tensor& Tensor::uniform_(double low, double high) {
  ops_detail::check_inplace("uniform_", *this);
  NABLA_CHECK(low <= high, "uniform_: expects low <= high, got low ", low, " and high ", high);
  Tensor buf = is_contiguous() ? *this : Tensor::empty(shape(), dtype());
  ops_detail::fill_uniform_contiguous(buf, low, high, nullptr);
  if (!buf.is_alias_of(*this)) {
    NoGradGuard no_grad;
    copy_(buf);
  }
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::normal_(double mean, double std) {
  ops_detail::check_inplace("normal_", *this);
  NABLA_CHECK(std >= 0.0, "normal_: expects std >= 0.0, got ", std);
  Tensor buf = is_contiguous() ? *this : Tensor::empty(shape(), dtype());
  ops_detail::fill_normal_contiguous(buf, mean, std, nullptr);
  if (!buf.is_alias_of(*this)) {
    NoGradGuard no_grad;
    copy_(buf);
  }
  storage()->bump_version();
  return *this;
}

}  // namespace nabla
