// In-place binary arithmetic: add_, sub_, mul_, div_ (tensor and scalar forms) and the
// compound operators. The result is computed in self's dtype after checking, as PyTorch
// does, that the promoted type can be stored there. A tracked non-leaf self gets its history
// rebased onto the new node; a leaf that requires grad is an error.
#include "nabla/autograd/node.h"
#include "nabla/ops/elementwise.h"
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

BinaryOp bool_inplace_op(const char* name, BinaryOp op, DType dtype) {
  if (dtype != kBool) return op;
  NABLA_CHECK_DTYPE(op == BinaryOp::kAdd || op == BinaryOp::kMul, name,
                    ": not supported for bool tensors");
  return op == BinaryOp::kAdd ? BinaryOp::kMaximum : BinaryOp::kMinimum;
}

// self = op(self, other) with other broadcast to self; dtype checks first.
Tensor& binary_inplace(const char* name, BinaryOp op, Tensor& self, const Tensor& other,
                       const ElementwiseParams& p) {
  elementwise::check_inplace(name, self);
  check_same_device(name, {{"self", self}, {"other", other}});
  DType rt = result_type(self, other);
  if (op == BinaryOp::kDiv && !is_floating(rt)) rt = kFloat32;
  elementwise::check_can_cast(name, rt, self.dtype());
  NABLA_CHECK_DTYPE(is_floating(rt) || p.alpha == static_cast<double>(static_cast<int64_t>(p.alpha)),
                    name, ": for integral input tensors, argument alpha must not be a floating "
                    "point number");
  elementwise::check_inplace_shape(name, self, other.shape());
  const bool track = autograd::needs_graph({self, other});
  // mul_ and div_ need self's old value for other's gradient (PyTorch clones it too).
  const bool need_old = (op == BinaryOp::kMul || op == BinaryOp::kDiv) && other.requires_grad();
  const Tensor old = track && need_old ? elementwise::copy_of(self) : Tensor();
  const Tensor o = cast(elementwise::unaliased(self, other), self.dtype());
  kernels::cpu::binary(bool_inplace_op(name, op, self.dtype()), self.dtype(),
                       geometry(self.shape(), {&self, &self, &o}), self.raw_data(),
                       self.raw_data(), o.raw_data(), p);
  self.storage()->bump_version();
  if (!track) return self;
  const double alpha = op == BinaryOp::kSub ? -p.alpha : p.alpha;
  autograd::record(name, self, {self, other},
                   [op, alpha, od = other.detach(), old](
                       const Tensor& dy, Grads& g) {
    const Shape& os = od.shape();
    const DType odt = od.dtype();
    switch (op) {
      case BinaryOp::kAdd:
      case BinaryOp::kSub:
        if (g.needs(0)) g.add(0, dy);
        if (g.needs(1)) g.add(1, grad_for(alpha == 1.0 ? dy : dy * alpha, os, odt));
        break;
      case BinaryOp::kMul:
        if (g.needs(0)) g.add(0, cast(dy * od, dy.dtype()));
        if (g.needs(1)) g.add(1, grad_for(dy * old, os, odt));
        break;
      default:  // div: d/dself = 1 / other, d/dother = -(self / other) / other
        if (g.needs(0)) g.add(0, cast(dy / od, dy.dtype()));
        if (g.needs(1)) g.add(1, grad_for(-dy * ((old / od) / od), os, odt));
        break;
    }
  });
  return self;
}

// self = op(self, s); s's gradient is not tracked.
Tensor& scalar_inplace(const char* name, BinaryOp op, Tensor& self, Scalar s) {
  elementwise::check_inplace(name, self);
  DType rt = result_type(self, s);
  if (op == BinaryOp::kDiv && !is_floating(rt)) rt = kFloat32;
  elementwise::check_can_cast(name, rt, self.dtype());
  ElementwiseParams p;
  p.scalar = s.to_double();
  kernels::cpu::binary(bool_inplace_op(name, op, self.dtype()), self.dtype(),
                       geometry(self.shape(), {&self, &self, &self}), self.raw_data(),
                       self.raw_data(), nullptr, p);
  self.storage()->bump_version();
  if (!autograd::needs_graph({self})) return self;
  const double v = s.to_double();
  autograd::record(name, self, {self}, [op, v](const Tensor& dy, Grads& g) {
    if (op == BinaryOp::kAdd || op == BinaryOp::kSub) {
      g.add(0, dy);
    } else {
      g.add(0, op == BinaryOp::kMul ? dy * v : dy / v);
    }
  });
  return self;
}

ElementwiseParams with_alpha(Scalar alpha) {
  ElementwiseParams p;
  p.alpha = alpha.to_double();
  return p;
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, Scalar alpha) {
  return binary_inplace("add_", BinaryOp::kAdd, *this, other, with_alpha(alpha));
}
Tensor& Tensor::sub_(const Tensor& other, Scalar alpha) {
  return binary_inplace("sub_", BinaryOp::kSub, *this, other, with_alpha(alpha));
}
Tensor& Tensor::mul_(const Tensor& other) {
  return binary_inplace("mul_", BinaryOp::kMul, *this, other, {});
}
Tensor& Tensor::div_(const Tensor& other) {
  return binary_inplace("div_", BinaryOp::kDiv, *this, other, {});
}
Tensor& Tensor::add_(Scalar other) { return scalar_inplace("add_", BinaryOp::kAdd, *this, other); }
Tensor& Tensor::sub_(Scalar other) { return scalar_inplace("sub_", BinaryOp::kSub, *this, other); }
Tensor& Tensor::mul_(Scalar other) { return scalar_inplace("mul_", BinaryOp::kMul, *this, other); }
Tensor& Tensor::div_(Scalar other) { return scalar_inplace("div_", BinaryOp::kDiv, *this, other); }

Tensor& operator+=(Tensor& a, const Tensor& b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, const Tensor& b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, const Tensor& b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, const Tensor& b) { return a.div_(b); }
Tensor& operator+=(Tensor& a, Scalar b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, Scalar b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, Scalar b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, Scalar b) { return a.div_(b); }

}  // namespace nabla
