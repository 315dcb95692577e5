// Result types, casts, geometry and in-place checks shared by the element-wise ops.
#include "ops/elementwise_common.h"

#include <optional>

#include "nabla/autograd/grad_mode.h"
#include "nabla/kernels/cpu/copy.h"
#include "nabla/ops/reduce.h"

namespace nabla::elementwise {

namespace {

using Maybe = std::optional<DType>;

Maybe promote(Maybe a, Maybe b) {
  if (!a) return b;
  if (!b) return a;
  return promote_types(*a, *b);
}

// c10's combine_categories: the higher tier wins unless the lower one is of a higher category.
Maybe combine(Maybe higher, Maybe lower) {
  if (higher && is_floating(*higher)) return higher;
  if (higher && lower && (*higher == kBool || is_floating(*lower))) return promote(higher, lower);
  return higher ? higher : lower;
}

// A Python scalar's dtype for promotion: int64 or the default float dtype.
DType scalar_type(Scalar s) { return s.is_integral() ? kInt64 : kFloat32; }

}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  Maybe dims;
  Maybe zero;
  for (const Tensor* t : {&a, &b}) {
    Maybe& tier = t->dim() > 0 ? dims : zero;
    tier = promote(tier, t->dtype());
  }
  return *combine(dims, zero);
}

DType result_type(const Tensor& a, Scalar s) {
  const Maybe t = a.dtype();
  return a.dim() > 0 ? *combine(t, scalar_type(s)) : *combine(std::nullopt, combine(t, scalar_type(s)));
}

DType float_type(DType t) { return is_floating(t) ? t : kFloat32; }

Tensor cast(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  const Tensor src = t.is_contiguous() ? t : copy_of(t);
  Tensor out = Tensor::empty(t.shape(), dtype);
  kernels::cpu::convert(out.raw_data(), dtype, src.raw_data(), t.dtype(), t.numel());
  return out;
}

Tensor copy_of(const Tensor& t) {
  Tensor copy = Tensor::empty(t.shape(), t.dtype());
  kernels::cpu::copy_strided(copy.raw_data(), t.raw_data(), t.element_size(), t.shape().data(),
                             t.strides().data(), t.dim());
  return copy;
}

kernels::cpu::Geometry geometry(const Shape& shape, std::initializer_list<const Tensor*> operands) {
  NABLA_CHECK_SHAPE(static_cast<int64_t>(shape.size()) <= kMaxDims, "element-wise op on ",
                    shape.size(), " dims; at most ", kMaxDims, " are supported");
  kernels::cpu::Geometry g;
  g.ndim = static_cast<int64_t>(shape.size());
  for (int64_t d = 0; d < g.ndim; ++d) g.sizes[d] = shape[d];
  size_t k = 0;
  for (const Tensor* t : operands) {
    const int64_t lead = g.ndim - t->dim();
    for (int64_t d = lead; d < g.ndim; ++d) {
      g.strides[k][d] = t->shape()[d - lead] == 1 ? 0 : t->strides()[d - lead];
    }
    ++k;
  }
  return g;
}

void check_inplace(const char* op, const Tensor& self) {
  check_defined(op, self, "self");
  NABLA_CHECK(!(autograd::is_grad_enabled() && self.requires_grad() && self.is_leaf()), op,
              ": a leaf tensor that requires grad is being used in an in-place operation");
  for (int64_t d = 0; d < self.dim(); ++d) {
    NABLA_CHECK(self.stride(d) != 0 || self.size(d) <= 1, op,
                ": unsupported operation: more than one element of the written-to tensor ",
                self.shape(), " refers to a single memory location (an expanded tensor); "
                "call .clone() before writing to it");
  }
}

void check_can_cast(const char* op, DType from, DType to) {
  const bool ok = !(is_floating(from) && !is_floating(to)) && !(from != kBool && to == kBool);
  NABLA_CHECK_DTYPE(ok, op, ": result type ", from, " can't be cast to the desired output type ",
                    to);
}

void check_inplace_shape(const char* op, const Tensor& self, const Shape& other) {
  const Shape shape = broadcast_shapes(self.shape(), other, op);
  NABLA_CHECK_SHAPE(shape == self.shape(), op, ": output with shape ", self.shape(),
                    " doesn't match the broadcast shape ", shape);
}

Tensor unaliased(const Tensor& self, const Tensor& other) {
  if (!other.is_alias_of(self)) return other;
  if (other.offset() == self.offset() && other.strides() == self.strides() &&
      other.shape() == self.shape()) {
    return other;  // x op= x reads each element before writing it
  }
  return copy_of(other);
}

Tensor grad_for(const Tensor& g, const Shape& shape, DType dtype) {
  return cast(sum_to(g, shape), dtype);
}

}  // namespace nabla::elementwise
