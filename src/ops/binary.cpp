// Binary arithmetic with broadcasting and PyTorch's type promotion: add, sub, mul, div, pow,
// maximum, minimum, their scalar forms, operators and in-place variants. Each op's backward
// sits beside its forward; gradients are summed back over broadcast dims with sum_to.
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

// out = op(a, b) broadcast, computed in dtype (bool output for comparisons and bool maps).
Tensor run_binary(const char* name, BinaryOp op, const Tensor& a, const Tensor& b, DType dtype,
                  const ElementwiseParams& p = {}) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  const Tensor ac = cast(a, dtype);
  const Tensor bc = cast(b, dtype);
  Tensor out = Tensor::empty(shape, kernels::cpu::is_comparison(op) ? kBool : dtype);
  kernels::cpu::binary(op, dtype, geometry(shape, {&out, &ac, &bc}), out.raw_data(),
                       ac.raw_data(), bc.raw_data(), p);
  return out;
}

// out = op(a, s) (or op(s, a) when scalar_first), s kept in compute precision.
Tensor run_scalar(BinaryOp op, const Tensor& a, double s, bool scalar_first, DType dtype,
                  ElementwiseParams p = {}) {
  const Tensor ac = cast(a, dtype);
  Tensor out = Tensor::empty(a.shape(), kernels::cpu::is_comparison(op) ? kBool : dtype);
  p.scalar = s;
  const void* x = ac.raw_data();
  kernels::cpu::binary(op, dtype, geometry(a.shape(), {&out, &ac, &ac}), out.raw_data(),
                       scalar_first ? nullptr : x, scalar_first ? x : nullptr, p);
  return out;
}

void check_pair(const char* name, const Tensor& a, const Tensor& b) {
  check_same_device(name, {{"self", a}, {"other", b}});
}

void check_alpha(const char* name, DType dtype, Scalar alpha) {
  NABLA_CHECK_DTYPE(is_floating(dtype) || alpha.is_integral(), name,
                    ": for integral input tensors, argument alpha must not be a floating point "
                    "number");
}

// The op bool tensors use for add (or) and mul (and); sub has none, as in PyTorch.
BinaryOp bool_op(const char* name, BinaryOp op, DType dtype) {
  if (dtype != kBool) return op;
  NABLA_CHECK_DTYPE(op != BinaryOp::kSub, name,
                    ": subtraction, the `-` operator, with two bool tensors is not supported; "
                    "use logical_not() to invert a mask");
  return op == BinaryOp::kAdd ? BinaryOp::kMaximum : BinaryOp::kMinimum;
}

// The dtype of a / b: true division, so integers give the default float dtype.
DType div_type(DType t) { return is_floating(t) ? t : kFloat32; }

Tensor add_sub(const char* name, BinaryOp op, const Tensor& a, const Tensor& b, Scalar alpha) {
  check_pair(name, a, b);
  const DType dtype = result_type(a, b);
  check_alpha(name, dtype, alpha);
  ElementwiseParams p;
  p.alpha = alpha.to_double();
  Tensor out = run_binary(name, bool_op(name, op, dtype), a, b, dtype, p);
  const double scale = op == BinaryOp::kSub ? -p.alpha : p.alpha;
  return autograd::record(
      name, out, {a, b},
      [as = a.shape(), ad = a.dtype(), bs = b.shape(), bd = b.dtype(), scale](const Tensor& dy,
                                                                              Grads& g) {
        if (g.needs(0)) g.add(0, grad_for(dy, as, ad));
        if (g.needs(1)) g.add(1, grad_for(scale == 1.0 ? dy : dy * scale, bs, bd));
      });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) {
  return add_sub("add", BinaryOp::kAdd, a, b, alpha);
}

Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) {
  return add_sub("sub", BinaryOp::kSub, a, b, alpha);
}

Tensor mul(const Tensor& a, const Tensor& b) {
  check_pair("mul", a, b);
  const DType dtype = result_type(a, b);
  Tensor out = run_binary("mul", bool_op("mul", BinaryOp::kMul, dtype), a, b, dtype);
  if (!autograd::needs_graph({a, b})) return out;
  return autograd::record("mul", out, {a, b}, [ad = a.detach(), bd = b.detach()](const Tensor& dy,
                                                                                 Grads& g) {
    if (g.needs(0)) g.add(0, grad_for(dy * bd, ad.shape(), ad.dtype()));
    if (g.needs(1)) g.add(1, grad_for(dy * ad, bd.shape(), bd.dtype()));
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  check_pair("div", a, b);
  const DType dtype = div_type(result_type(a, b));
  Tensor out = run_binary("div", BinaryOp::kDiv, a, b, dtype);
  if (!autograd::needs_graph({a, b})) return out;
  return autograd::record("div", out, {a, b}, [ad = a.detach(), bd = b.detach()](const Tensor& dy,
                                                                                 Grads& g) {
    if (g.needs(0)) g.add(0, grad_for(dy / bd, ad.shape(), ad.dtype()));
    // PyTorch's form: -dy * ((a / b) / b)
    if (g.needs(1)) g.add(1, grad_for(-dy * ((ad / bd) / bd), bd.shape(), bd.dtype()));
  });
}

Tensor pow(const Tensor& a, const Tensor& exponent) {
  check_same_device("pow", {{"self", a}, {"exponent", exponent}});
  const DType dtype = result_type(a, exponent);
  NABLA_CHECK_DTYPE(dtype != kBool, "pow: bool tensors are not supported");
  Tensor out = run_binary("pow", BinaryOp::kPow, a, exponent, dtype);
  if (!autograd::needs_graph({a, exponent})) return out;
  return autograd::record("pow", out, {a, exponent},
                          [ad = a.detach(), ed = exponent.detach(), y = out.detach()](
                              const Tensor& dy, Grads& g) {
    if (g.needs(0)) {  // exponent * a^(exponent - 1), 0 where exponent == 0
      const Tensor d = where(eq(ed, 0), Scalar(0.0), ed * pow(ad, ed - 1));
      g.add(0, grad_for(dy * d, ad.shape(), ad.dtype()));
    }
    if (g.needs(1)) {  // y log a, 0 where a == 0 and exponent >= 0 (the limit)
      const Tensor mask = minimum(eq(ad, 0), ge(ed, 0));
      g.add(1, grad_for(dy * where(mask, Scalar(0.0), y * log(ad)), ed.shape(), ed.dtype()));
    }
  });
}

Tensor pow(const Tensor& a, Scalar exponent) {
  check_defined("pow", a, "self");
  const DType dtype = result_type(a, exponent);
  NABLA_CHECK_DTYPE(dtype != kBool, "pow: bool tensors are not supported");
  NABLA_CHECK(is_floating(dtype) || exponent.to_int() >= 0, "pow: integers to negative integer "
              "powers are not allowed");
  ElementwiseParams p;
  p.exponent = exponent.to_double();
  const Tensor ac = cast(a, dtype);
  Tensor out = Tensor::empty(a.shape(), dtype);
  kernels::cpu::unary(kernels::cpu::UnaryOp::kPowScalar, dtype, geometry(a.shape(), {&out, &ac}),
                      out.raw_data(), ac.raw_data(), p);
  if (!autograd::needs_graph({a})) return out;
  return autograd::record("pow", out, {a}, [ad = a.detach(), p](const Tensor& dy, Grads& g) {
    Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
    kernels::cpu::binary(BinaryOp::kPowScalarBackward, dy.dtype(),
                         geometry(dy.shape(), {&dx, &dy, &ad}), dx.raw_data(), dy.raw_data(),
                         ad.raw_data(), p);
    g.add(0, dx);
  });
}

Tensor pow(Scalar base, const Tensor& exponent) {
  check_defined("pow", exponent, "exponent");
  const DType dtype = result_type(exponent, base);
  NABLA_CHECK_DTYPE(dtype != kBool, "pow: bool tensors are not supported");
  Tensor out = run_scalar(BinaryOp::kPow, exponent, base.to_double(), true, dtype);
  if (!autograd::needs_graph({exponent})) return out;
  const double b = base.to_double();
  return autograd::record("pow", out, {exponent}, [ed = exponent.detach(), y = out.detach(), b](
                                                      const Tensor& dy, Grads& g) {
    // y log(base); 0 where base == 0 and exponent >= 0
    const Tensor d = b == 0.0 ? where(ge(ed, 0), Scalar(0.0), y * std::log(b)) : y * std::log(b);
    g.add(0, cast(dy * d, ed.dtype()));
  });
}

namespace {

// maximum/minimum: the gradient goes to the larger (smaller) input, split evenly on ties.
Tensor extremum(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_pair(name, a, b);
  const DType dtype = result_type(a, b);
  Tensor out = run_binary(name, op, a, b, dtype);
  if (!autograd::needs_graph({a, b})) return out;
  const bool is_max = op == BinaryOp::kMaximum;
  return autograd::record(name, out, {a, b}, [ad = a.detach(), bd = b.detach(), is_max](
                                                 const Tensor& dy, Grads& g) {
    const Tensor shared = where(eq(ad, bd), dy / 2, dy);
    if (g.needs(0)) {
      const Tensor loses = is_max ? lt(ad, bd) : gt(ad, bd);
      g.add(0, grad_for(where(loses, Scalar(0.0), shared), ad.shape(), ad.dtype()));
    }
    if (g.needs(1)) {
      const Tensor loses = is_max ? gt(ad, bd) : lt(ad, bd);
      g.add(1, grad_for(where(loses, Scalar(0.0), shared), bd.shape(), bd.dtype()));
    }
  });
}

}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return extremum("maximum", BinaryOp::kMaximum, a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return extremum("minimum", BinaryOp::kMinimum, a, b);
}

// ---- scalar forms: t + s, s - t, ... -----------------------------------------------------

namespace {

// op(a, s) or op(s, a) for add/sub/mul/div; the scalar's gradient is not tracked.
Tensor scalar_arith(const char* name, BinaryOp op, const Tensor& a, Scalar s, bool scalar_first) {
  check_defined(name, a, "self");
  DType dtype = result_type(a, s);
  if (op == BinaryOp::kDiv) dtype = div_type(dtype);
  op = bool_op(name, op, dtype);
  Tensor out = run_scalar(op, a, s.to_double(), scalar_first, dtype);
  if (!autograd::needs_graph({a})) return out;
  return autograd::record(name, out, {a}, [ad = a.detach(), y = out.detach(), op, scalar_first,
                                           v = s.to_double()](const Tensor& dy, Grads& g) {
    Tensor dx;
    switch (op) {
      case BinaryOp::kAdd: dx = dy; break;
      case BinaryOp::kSub: dx = scalar_first ? -dy : dy; break;
      case BinaryOp::kMul: dx = dy * v; break;
      default: dx = scalar_first ? -dy * (y / ad) : dy / v; break;  // d(s/a) = -s/a^2 = -y/a
    }
    g.add(0, cast(dx, ad.dtype()));
  });
}

}  // namespace

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, Scalar b) { return scalar_arith("add", BinaryOp::kAdd, a, b, false); }
Tensor operator-(const Tensor& a, Scalar b) { return scalar_arith("sub", BinaryOp::kSub, a, b, false); }
Tensor operator*(const Tensor& a, Scalar b) { return scalar_arith("mul", BinaryOp::kMul, a, b, false); }
Tensor operator/(const Tensor& a, Scalar b) { return scalar_arith("div", BinaryOp::kDiv, a, b, false); }
Tensor operator+(Scalar a, const Tensor& b) { return scalar_arith("add", BinaryOp::kAdd, b, a, true); }
Tensor operator-(Scalar a, const Tensor& b) { return scalar_arith("sub", BinaryOp::kSub, b, a, true); }
Tensor operator*(Scalar a, const Tensor& b) { return scalar_arith("mul", BinaryOp::kMul, b, a, true); }
Tensor operator/(Scalar a, const Tensor& b) { return scalar_arith("div", BinaryOp::kDiv, b, a, true); }
Tensor operator-(const Tensor& a) { return neg(a); }

Tensor Tensor::add(const Tensor& other, Scalar alpha) const { return nabla::add(*this, other, alpha); }
Tensor Tensor::sub(const Tensor& other, Scalar alpha) const { return nabla::sub(*this, other, alpha); }
Tensor Tensor::mul(const Tensor& other) const { return nabla::mul(*this, other); }
Tensor Tensor::div(const Tensor& other) const { return nabla::div(*this, other); }
Tensor Tensor::pow(const Tensor& exponent) const { return nabla::pow(*this, exponent); }
Tensor Tensor::pow(Scalar exponent) const { return nabla::pow(*this, exponent); }

}  // namespace nabla
