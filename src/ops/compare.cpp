// Comparisons (bool results, never differentiable), logical_not, where, masked_fill,
// allclose and equal. Comparisons compute in the promoted dtype, so an int tensor compared
// with 2.5 compares as float, as in PyTorch.
#include <algorithm>
#include <cmath>

#include "nabla/autograd/node.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
#include "ops/elementwise_common.h"

namespace nabla {

using autograd::Grads;
using elementwise::cast;
using elementwise::geometry;
using elementwise::grad_for;
using elementwise::result_type;
using kernels::cpu::BinaryOp;
using kernels::cpu::ElementwiseParams;

namespace {

Tensor compare(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_same_device(name, {{"self", a}, {"other", b}});
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  const DType dtype = result_type(a, b);
  const Tensor ac = cast(a, dtype);
  const Tensor bc = cast(b, dtype);
  Tensor out = Tensor::empty(shape, kBool);
  kernels::cpu::binary(op, dtype, geometry(shape, {&out, &ac, &bc}), out.raw_data(),
                       ac.raw_data(), bc.raw_data());
  return out;
}

Tensor compare(const char* name, BinaryOp op, const Tensor& a, Scalar s) {
  check_defined(name, a, "self");
  const DType dtype = result_type(a, s);
  const Tensor ac = cast(a, dtype);
  Tensor out = Tensor::empty(a.shape(), kBool);
  ElementwiseParams p;
  p.scalar = s.to_double();
  kernels::cpu::binary(op, dtype, geometry(a.shape(), {&out, &ac, &ac}), out.raw_data(),
                       ac.raw_data(), nullptr, p);
  return out;
}

void check_bool(const char* name, const char* what, const Tensor& t) {
  check_defined(name, t, what);
  NABLA_CHECK_DTYPE(t.dtype() == kBool, name, ": expected ", what,
                    " to be a bool tensor, got a tensor with dtype ", t.dtype());
}

// out = cond ? a : b (a, b may be undefined: then the scalar), all broadcast, in dtype.
Tensor run_where(const Tensor& cond, const Tensor& a, const Tensor& b, double sa, double sb,
                 const Shape& shape, DType dtype) {
  const Tensor ac = a.defined() ? cast(a, dtype) : Tensor();
  const Tensor bc = b.defined() ? cast(b, dtype) : Tensor();
  Tensor out = Tensor::empty(shape, dtype);
  const Tensor& pa = ac.defined() ? ac : out;  // a stand-in for the geometry only
  const Tensor& pb = bc.defined() ? bc : out;
  kernels::cpu::where(dtype, geometry(shape, {&out, &cond, &pa, &pb}), out.raw_data(),
                      cond.data<bool>(), ac.defined() ? ac.raw_data() : nullptr,
                      bc.defined() ? bc.raw_data() : nullptr, sa, sb);
  return out;
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", BinaryOp::kEq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", BinaryOp::kNe, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", BinaryOp::kLt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", BinaryOp::kLe, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", BinaryOp::kGt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", BinaryOp::kGe, a, b); }
Tensor eq(const Tensor& a, Scalar b) { return compare("eq", BinaryOp::kEq, a, b); }
Tensor ne(const Tensor& a, Scalar b) { return compare("ne", BinaryOp::kNe, a, b); }
Tensor lt(const Tensor& a, Scalar b) { return compare("lt", BinaryOp::kLt, a, b); }
Tensor le(const Tensor& a, Scalar b) { return compare("le", BinaryOp::kLe, a, b); }
Tensor gt(const Tensor& a, Scalar b) { return compare("gt", BinaryOp::kGt, a, b); }
Tensor ge(const Tensor& a, Scalar b) { return compare("ge", BinaryOp::kGe, a, b); }
Tensor logical_not(const Tensor& a) { return compare("logical_not", BinaryOp::kEq, a, Scalar(0)); }

// ---- where and masked_fill ------------------------------------------------------------

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_bool("where", "condition", cond);
  check_same_device("where", {{"condition", cond}, {"self", a}, {"other", b}});
  const Shape shape =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = run_where(cond, a, b, 0, 0, shape, result_type(a, b));
  if (!autograd::needs_graph({a, b})) return out;
  return autograd::record(
      "where", out, {a, b},
      [c = cond.detach(), as = a.shape(), ad = a.dtype(), bs = b.shape(), bd = b.dtype()](
          const Tensor& dy, Grads& g) {
        if (g.needs(0)) g.add(0, grad_for(where(c, dy, Scalar(0.0)), as, ad));
        if (g.needs(1)) g.add(1, grad_for(where(c, Scalar(0.0), dy), bs, bd));
      });
}

Tensor where(const Tensor& cond, const Tensor& a, Scalar b) {
  check_bool("where", "condition", cond);
  check_same_device("where", {{"condition", cond}, {"self", a}});
  const Shape shape = broadcast_shapes(cond.shape(), a.shape(), "where");
  Tensor out = run_where(cond, a, Tensor(), 0, b.to_double(), shape, result_type(a, b));
  if (!autograd::needs_graph({a})) return out;
  return autograd::record("where", out, {a}, [c = cond.detach(), as = a.shape(), ad = a.dtype()](
                                                 const Tensor& dy, Grads& g) {
    g.add(0, grad_for(where(c, dy, Scalar(0.0)), as, ad));
  });
}

Tensor where(const Tensor& cond, Scalar a, const Tensor& b) {
  check_bool("where", "condition", cond);
  check_same_device("where", {{"condition", cond}, {"other", b}});
  const Shape shape = broadcast_shapes(cond.shape(), b.shape(), "where");
  Tensor out = run_where(cond, Tensor(), b, a.to_double(), 0, shape, result_type(b, a));
  if (!autograd::needs_graph({b})) return out;
  return autograd::record("where", out, {b}, [c = cond.detach(), bs = b.shape(), bd = b.dtype()](
                                                 const Tensor& dy, Grads& g) {
    g.add(0, grad_for(where(c, Scalar(0.0), dy), bs, bd));
  });
}

// a with value where mask is true; the result has a's dtype and the broadcast shape.
Tensor masked_fill(const Tensor& a, const Tensor& mask, Scalar value) {
  check_bool("masked_fill", "mask", mask);
  check_same_device("masked_fill", {{"self", a}, {"mask", mask}});
  const Shape shape = broadcast_shapes(a.shape(), mask.shape(), "masked_fill");
  Tensor out = run_where(mask, Tensor(), a, value.to_double(), 0, shape, a.dtype());
  if (!autograd::needs_graph({a})) return out;
  return autograd::record("masked_fill", out, {a},
                          [m = mask.detach(), as = a.shape(), ad = a.dtype()](const Tensor& dy,
                                                                              Grads& g) {
    g.add(0, grad_for(where(m, Scalar(0.0), dy), as, ad));
  });
}

Tensor Tensor::masked_fill(const Tensor& mask, Scalar value) const {
  return nabla::masked_fill(*this, mask, value);
}

Tensor& Tensor::masked_fill_(const Tensor& mask, Scalar value) {
  elementwise::check_inplace("masked_fill_", *this);
  check_bool("masked_fill_", "mask", mask);
  check_same_device("masked_fill_", {{"self", *this}, {"mask", mask}});
  elementwise::check_inplace_shape("masked_fill_", *this, mask.shape());
  const Tensor m = elementwise::unaliased(*this, mask);
  kernels::cpu::where(dtype(), geometry(shape(), {this, &m, this, this}), raw_data(),
                      m.data<bool>(), nullptr, raw_data(), value.to_double(), 0);
  storage()->bump_version();
  if (autograd::needs_graph({*this})) {
    autograd::record("masked_fill", *this, {*this},
                     [md = m.detach()](const Tensor& dy, Grads& g) {
                       g.add(0, where(md, Scalar(0.0), dy));
                     });
  }
  return *this;
}

// ---- whole-tensor predicates -----------------------------------------------------------

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  check_same_device("allclose", {{"self", a}, {"other", b}});
  if (a.shape() != b.shape()) return false;
  const std::vector<double> va = a.to_vector();
  const std::vector<double> vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i) {
    if (va[i] == vb[i]) continue;  // also equal infinities
    if (!(std::abs(va[i] - vb[i]) <= atol + rtol * std::abs(vb[i]))) return false;  // NaN too
  }
  return true;
}

bool equal(const Tensor& a, const Tensor& b) {
  check_same_device("equal", {{"self", a}, {"other", b}});
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor same = eq(a, b);  // compares in the dtype itself: exact for large int64
  const bool* p = same.data<bool>();
  return std::all_of(p, p + same.numel(), [](bool v) { return v; });
}

Tensor Tensor::eq(const Tensor& other) const { return nabla::eq(*this, other); }
Tensor Tensor::ne(const Tensor& other) const { return nabla::ne(*this, other); }
Tensor Tensor::lt(const Tensor& other) const { return nabla::lt(*this, other); }
Tensor Tensor::le(const Tensor& other) const { return nabla::le(*this, other); }
Tensor Tensor::gt(const Tensor& other) const { return nabla::gt(*this, other); }
Tensor Tensor::ge(const Tensor& other) const { return nabla::ge(*this, other); }

}  // namespace nabla
