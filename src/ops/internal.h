// Helpers shared between op files (private to the ops layer).
#pragma once

#include "nabla/core/rng.h"
#include "nabla/core/tensor.h"

namespace nabla::ops_detail {

/// Fills a contiguous floating tensor with uniform [low, high) / normal(mean, std) values from
/// gen (the default generator when null); see creation.cpp for the counter layout.
void fill_uniform_contiguous(const Tensor& t, double low, double high, Generator* gen);
void fill_normal_contiguous(const Tensor& t, double mean, double std, Generator* gen);

/// A new contiguous tensor with t's values, outside the graph. Matrices transposed in memory
/// take a tiled copy.
Tensor dense_copy(const Tensor& t);

/// Throws when an in-place op would silently break autograd: t requires grad and grad mode is
/// on ("a leaf tensor that requires grad is being used in an in-place operation").
void check_inplace(const char* op, const Tensor& t);

/// linear() under bf16 autocast (autocast_linear.cpp): x (..., in), weight (out, in) and bias
/// (out) or undefined, all f32 and already checked; returns f32.
Tensor linear_bf16_autocast(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace nabla::ops_detail
