// Element-wise kernels over strided operands with broadcasting: unary maps, binary maps
// (arithmetic, comparisons and the unary ops' backward formulas), where, and sum_to (the
// reduction that undoes broadcasting). Operand 0 is always the output; strides are in
// elements and 0 along dims where an operand is broadcast. Arithmetic happens in
// compute_t<T> (f32 for bf16); results are the same for any thread count.
#pragma once

#include <array>
#include <cstdint>
#include <limits>

#include "nabla/core/dtype.h"
#include "nabla/core/shape.h"

namespace nabla::kernels::cpu {

/// Iteration space of an element-wise op: the output's sizes and, per operand, its strides
/// (0 where the operand is broadcast). Operand 0 is the output.
struct Geometry {
  static constexpr int kMaxOperands = 4;
  int64_t ndim = 0;
  std::array<int64_t, kMaxDims> sizes{};
  std::array<std::array<int64_t, kMaxDims>, kMaxOperands> strides{};
};

enum class UnaryOp : uint8_t {
  kNeg, kAbs, kExp, kLog, kSqrt, kRsqrt, kTanh, kSigmoid, kRelu,
  kGelu,       // exact: 0.5 x (1 + erf(x / sqrt 2))
  kGeluTanh,   // GPT-2's tanh approximation
  kSilu,
  kClamp,      // min(max(x, lo), hi)
  kPowScalar,  // x ^ exponent
};

enum class BinaryOp : uint8_t {
  kAdd, kSub,  // a + alpha b, a - alpha b
  kMul, kDiv, kPow, kMaximum, kMinimum,
  kEq, kNe, kLt, kLe, kGt, kGe,  // bool output
  // Backward formulas of unary ops (floating dtypes only): a is dy, b the saved input x or
  // output y as named; the result is dx.
  kAbsBackward,       // x
  kLogBackward,       // x
  kSqrtBackward,      // y
  kRsqrtBackward,     // y
  kTanhBackward,      // y
  kSigmoidBackward,   // y
  kReluBackward,      // y
  kGeluBackward,      // x
  kGeluTanhBackward,  // x
  kSiluBackward,      // x
  kClampBackward,     // x: dy where lo <= x <= hi, else 0
  kPowScalarBackward, // x: dy * exponent * x^(exponent - 1), 0 when exponent is 0
};

struct ElementwiseParams {
  double alpha = 1.0;  // add/sub
  double lo = -std::numeric_limits<double>::infinity();  // clamp bounds, inclusive
  double hi = std::numeric_limits<double>::infinity();
  double exponent = 1.0;  // kPowScalar, kPowScalarBackward
  double scalar = 0.0;    // stands in for a null operand pointer (t + 2, 2 - t)
};

/// True for the binary ops whose output is bool.
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::kEq && op <= BinaryOp::kGe; }

/// out = op(in); out and in have dtype (floating ops: floating dtypes only).
void unary(UnaryOp op, DType dtype, const Geometry& g, void* out, const void* in,
           const ElementwiseParams& p = {});

/// out = op(a, b); a, b have dtype, out has dtype (bool for comparisons). One of a, b may be
/// null: it is then p.scalar everywhere (kept in compute_t precision, as PyTorch does).
void binary(BinaryOp op, DType dtype, const Geometry& g, void* out, const void* a, const void* b,
            const ElementwiseParams& p = {});

/// out = cond ? a : b with operands (out, cond, a, b); cond is bool. A null a or b stands
/// for a_scalar or b_scalar.
void where(DType dtype, const Geometry& g, void* out, const bool* cond, const void* a,
           const void* b, double a_scalar, double b_scalar);

/// out (contiguous) = in summed over the dims where out's stride (g.strides[0]) is 0;
/// g.strides[1] are in's strides. Each output element is summed in a fixed order.
void sum_to(DType dtype, const Geometry& g, void* out, const void* in);

}  // namespace nabla::kernels::cpu
