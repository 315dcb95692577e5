// Unary element-wise ops: neg, abs, exp, log, sqrt, rsqrt, tanh, sigmoid, relu, gelu, silu,
// clamp and their in-place forms. Each backward is one fused kernel pass dx = f'(dy, x or y),
// with the derivative written in terms of the output where PyTorch does (exp, sqrt, tanh, ...).
#include <cmath>
#include <limits>

#include "nabla/autograd/node.h"
#include "nabla/ops/elementwise.h"
#include "ops/elementwise_common.h"

namespace nabla {

using autograd::Grads;
using elementwise::cast;
using elementwise::geometry;
using kernels::cpu::BinaryOp;
using kernels::cpu::ElementwiseParams;
using kernels::cpu::UnaryOp;

namespace {

// What an op's backward reads besides dy.
enum class Saved { kNone, kInput, kOutput };

struct UnarySpec {
  const char* name;
  UnaryOp op;
  BinaryOp backward;  // dx = backward(dy, saved)
  Saved saved;
  bool floating;  // integer inputs compute in f32 (exp, sqrt, ...); else they keep their dtype
};

// out = op(a) as a new contiguous tensor of dtype.
Tensor run_unary(UnaryOp op, const Tensor& a, DType dtype, const ElementwiseParams& p) {
  const Tensor ac = cast(a, dtype);
  Tensor out = Tensor::empty(a.shape(), dtype);
  kernels::cpu::unary(op, dtype, geometry(a.shape(), {&out, &ac}), out.raw_data(), ac.raw_data(),
                      p);
  return out;
}

// dx = kernel(dy, v) for the backward formulas; v is x or y, possibly strided.
Tensor run_backward(BinaryOp op, const Tensor& dy, const Tensor& v, const ElementwiseParams& p) {
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
  kernels::cpu::binary(op, dy.dtype(), geometry(dy.shape(), {&dx, &dy, &v}), dx.raw_data(),
                       dy.raw_data(), v.raw_data(), p);
  return dx;
}

// Records out = spec.op(a) with its fused backward.
Tensor record_unary(const UnarySpec& spec, Tensor out, const Tensor& a, const Tensor& saved,
                    const ElementwiseParams& p) {
  if (!autograd::needs_graph({a})) return out;
  return autograd::record(spec.name, out, {a},
                          [s = saved.detach(), op = spec.backward, p](const Tensor& dy, Grads& g) {
                            g.add(0, run_backward(op, dy, s, p));
                          });
}

Tensor unary_op(const UnarySpec& spec, const Tensor& a, const ElementwiseParams& p = {}) {
  check_defined(spec.name, a, "self");
  NABLA_CHECK_DTYPE(spec.floating || a.dtype() != kBool, spec.name,
                    ": not implemented for bool tensors");
  const DType dtype = spec.floating ? elementwise::float_type(a.dtype()) : a.dtype();
  Tensor out = run_unary(spec.op, a, dtype, p);
  return record_unary(spec, out, a, spec.saved == Saved::kOutput ? out : a, p);
}

// In place: self = op(self), with autograd history rebased onto self when it is tracked.
Tensor& unary_inplace(const UnarySpec& spec, Tensor& self, const ElementwiseParams& p = {}) {
  elementwise::check_inplace(spec.name, self);
  const DType dtype = spec.floating ? elementwise::float_type(self.dtype()) : self.dtype();
  elementwise::check_can_cast(spec.name, dtype, self.dtype());
  NABLA_CHECK_DTYPE(self.dtype() != kBool, spec.name, ": not implemented for bool tensors");
  const bool track = autograd::needs_graph({self});
  const Tensor x = track && spec.saved == Saved::kInput ? elementwise::copy_of(self) : self;
  kernels::cpu::unary(spec.op, self.dtype(), geometry(self.shape(), {&self, &self}),
                      self.raw_data(), self.raw_data(), p);
  self.storage()->bump_version();
  if (track) record_unary(spec, self, self, spec.saved == Saved::kOutput ? self : x, p);
  return self;
}

constexpr UnarySpec kNeg{"neg", UnaryOp::kNeg, BinaryOp::kMul, Saved::kNone, false};
constexpr UnarySpec kAbs{"abs", UnaryOp::kAbs, BinaryOp::kAbsBackward, Saved::kInput, false};
constexpr UnarySpec kExp{"exp", UnaryOp::kExp, BinaryOp::kMul, Saved::kOutput, true};
constexpr UnarySpec kLog{"log", UnaryOp::kLog, BinaryOp::kLogBackward, Saved::kInput, true};
constexpr UnarySpec kSqrt{"sqrt", UnaryOp::kSqrt, BinaryOp::kSqrtBackward, Saved::kOutput, true};
constexpr UnarySpec kRsqrt{"rsqrt", UnaryOp::kRsqrt, BinaryOp::kRsqrtBackward, Saved::kOutput, true};
constexpr UnarySpec kTanh{"tanh", UnaryOp::kTanh, BinaryOp::kTanhBackward, Saved::kOutput, true};
constexpr UnarySpec kSigmoid{"sigmoid", UnaryOp::kSigmoid, BinaryOp::kSigmoidBackward,
                             Saved::kOutput, true};
constexpr UnarySpec kRelu{"relu", UnaryOp::kRelu, BinaryOp::kReluBackward, Saved::kOutput, false};
constexpr UnarySpec kGelu{"gelu", UnaryOp::kGelu, BinaryOp::kGeluBackward, Saved::kInput, true};
constexpr UnarySpec kGeluTanh{"gelu", UnaryOp::kGeluTanh, BinaryOp::kGeluTanhBackward,
                              Saved::kInput, true};
constexpr UnarySpec kSilu{"silu", UnaryOp::kSilu, BinaryOp::kSiluBackward, Saved::kInput, true};
constexpr UnarySpec kClamp{"clamp", UnaryOp::kClamp, BinaryOp::kClampBackward, Saved::kInput, false};

// clamp's bounds as kernel params; integer tensors with fractional bounds compute in f32.
ElementwiseParams clamp_params(std::optional<double> min, std::optional<double> max) {
  NABLA_CHECK(min.has_value() || max.has_value(),
              "clamp: at least one of 'min' or 'max' must not be None");
  ElementwiseParams p;
  if (min) p.lo = *min;
  if (max) p.hi = *max;
  return p;
}

DType clamp_type(DType t, std::optional<double> min, std::optional<double> max) {
  const auto fractional = [](std::optional<double> v) { return v && std::trunc(*v) != *v; };
  return is_integral(t) && (fractional(min) || fractional(max)) ? kFloat32 : t;
}

}  // namespace

Tensor neg(const Tensor& a) {
  check_defined("neg", a, "self");
  NABLA_CHECK_DTYPE(a.dtype() != kBool, "neg: negation, the `-` operator, on a bool tensor is "
                    "not supported; use logical_not() instead");
  Tensor out = run_unary(UnaryOp::kNeg, a, a.dtype(), {});
  return autograd::record("neg", out, {a}, [](const Tensor& dy, Grads& g) { g.add(0, -dy); });
}

Tensor abs(const Tensor& a) { return unary_op(kAbs, a); }
Tensor exp(const Tensor& a) { return unary_op(kExp, a); }
Tensor log(const Tensor& a) { return unary_op(kLog, a); }
Tensor sqrt(const Tensor& a) { return unary_op(kSqrt, a); }
Tensor rsqrt(const Tensor& a) { return unary_op(kRsqrt, a); }
Tensor tanh(const Tensor& a) { return unary_op(kTanh, a); }
Tensor sigmoid(const Tensor& a) { return unary_op(kSigmoid, a); }
Tensor relu(const Tensor& a) { return unary_op(kRelu, a); }
Tensor silu(const Tensor& a) { return unary_op(kSilu, a); }

Tensor gelu(const Tensor& a, const std::string& approximate) {
  NABLA_CHECK(approximate == "none" || approximate == "tanh",
              "gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
  return unary_op(approximate == "tanh" ? kGeluTanh : kGelu, a);
}

Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max) {
  check_defined("clamp", a, "self");
  NABLA_CHECK_DTYPE(a.dtype() != kBool, "clamp: not implemented for bool tensors");
  const ElementwiseParams p = clamp_params(min, max);
  const DType dtype = clamp_type(a.dtype(), min, max);
  Tensor out = run_unary(UnaryOp::kClamp, a, dtype, p);
  return record_unary(kClamp, out, a, a, p);
}

Tensor Tensor::neg() const { return nabla::neg(*this); }
Tensor Tensor::abs() const { return nabla::abs(*this); }
Tensor Tensor::exp() const { return nabla::exp(*this); }
Tensor Tensor::log() const { return nabla::log(*this); }
Tensor Tensor::sqrt() const { return nabla::sqrt(*this); }
Tensor Tensor::rsqrt() const { return nabla::rsqrt(*this); }
Tensor Tensor::tanh() const { return nabla::tanh(*this); }
Tensor Tensor::sigmoid() const { return nabla::sigmoid(*this); }
Tensor Tensor::relu() const { return nabla::relu(*this); }
Tensor Tensor::gelu(const std::string& approximate) const { return nabla::gelu(*this, approximate); }
Tensor Tensor::silu() const { return nabla::silu(*this); }
Tensor Tensor::clamp(std::optional<double> min, std::optional<double> max) const {
  return nabla::clamp(*this, min, max);
}

Tensor& Tensor::relu_() { return unary_inplace(kRelu, *this); }
Tensor& Tensor::sigmoid_() { return unary_inplace(kSigmoid, *this); }
Tensor& Tensor::exp_() { return unary_inplace(kExp, *this); }
Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) {
  elementwise::check_can_cast("clamp_", clamp_type(dtype(), min, max), dtype());
  return unary_inplace(kClamp, *this, clamp_params(min, max));
}

}  // namespace nabla
