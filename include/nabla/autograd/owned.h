// Gradient buffers the engine may write into: contiguous and referenced from nowhere else.
#pragma once

#include "nabla/core/tensor.h"

namespace nabla::autograd {

/// t itself when it is contiguous, exactly covers its storage and nobody else holds it;
/// otherwise a contiguous copy.
Tensor owned_contiguous(const Tensor& t);
/// acc += g, with acc made owned and contiguous first (acc is replaced when it was not).
void accumulate_into(Tensor& acc, const Tensor& g);

}  // namespace nabla::autograd
