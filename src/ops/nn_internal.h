// Helpers shared by the nn functional ops (norm.cpp, embedding.cpp, dropout.cpp, loss.cpp):
// flat buffers from tensors, and finishing a loss from its per-element values.
#pragma once

#include <vector>

#include "nabla/core/tensor.h"
#include "nabla/ops/nn_functional.h"

namespace nabla::nn_detail {

/// t itself when contiguous, else a contiguous copy (outside the graph: the ops using it record
/// their own node against the original input).
Tensor dense(const Tensor& t);
/// The dtype arithmetic happens in for dtype: f32 for bf16, the dtype itself otherwise.
DType compute_dtype(DType dtype);
/// Integer indices of any shape (int64 or int32) as a contiguous int64 tensor.
Tensor int64_indices(const char* op, const Tensor& indices, const char* name);

/// The gradient scaling a reduced loss applies per element: 1/count for Mean, 1 otherwise.
inline double reduction_scale(Reduction r, double count) {
  return r == Reduction::Mean ? 1.0 / count : 1.0;
}
/// Stride of dy over the per-element losses: 1 for None, 0 (one scalar) otherwise.
inline int64_t reduction_dy_stride(Reduction r) { return r == Reduction::None ? 1 : 0; }

/// The loss in dtype from per-element losses (contiguous, compute dtype): shaped `shape` for
/// None, else a 0-d sum (divided by count for Mean). Sums run in double, in element order.
Tensor finish_loss(const Tensor& per_element, DType dtype, Reduction r, double count,
                   const Shape& shape);

}  // namespace nabla::nn_detail
