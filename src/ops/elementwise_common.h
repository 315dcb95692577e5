// Shared plumbing of the element-wise ops (binary.cpp, unary.cpp, compare.cpp, sum_to.cpp):
// PyTorch's result-type rules, dtype casts without autograd, kernel geometry from tensors,
// and the in-place checks.
#pragma once

#include <initializer_list>

#include "nabla/core/tensor.h"
#include "nabla/kernels/cpu/elementwise.h"

namespace nabla::elementwise {

/// The dtype of op(a, b) as torch.result_type computes it: tensors with dims outrank 0-d
/// tensors, which outrank Python scalars, unless the lower tier is of a higher category
/// (bool < integer < floating).
DType result_type(const Tensor& a, const Tensor& b);
DType result_type(const Tensor& a, Scalar s);
/// The floating dtype a unary float op (exp, sqrt, ...) computes in: t's own, f32 for integers.
DType float_type(DType t);

/// t converted to dtype (t itself when it already has it); not recorded for autograd.
Tensor cast(const Tensor& t, DType dtype);

/// A contiguous copy of t (same dtype); not recorded for autograd.
Tensor copy_of(const Tensor& t);

/// Iteration geometry for an op producing `shape`: per operand, its strides with 0 on
/// broadcast dims (operands are right-aligned against shape, as in NumPy).
kernels::cpu::Geometry geometry(const Shape& shape, std::initializer_list<const Tensor*> operands);

/// Throws like PyTorch when self may not be written in place under autograd.
void check_inplace(const char* op, const Tensor& self);
/// Throws unless a result of dtype `from` may be stored in dtype `to` (no float -> int,
/// no non-bool -> bool), with PyTorch's message.
void check_can_cast(const char* op, DType from, DType to);
/// Throws unless broadcasting other against self keeps self's shape.
void check_inplace_shape(const char* op, const Tensor& self, const Shape& other);
/// other, or a copy of it when it shares memory with self (writes would race its reads).
Tensor unaliased(const Tensor& self, const Tensor& other);

/// The gradient g (broadcast shape, result dtype) summed and cast to an input's shape and
/// dtype, ready for Grads::add.
Tensor grad_for(const Tensor& g, const Shape& shape, DType dtype);

}  // namespace nabla::elementwise
