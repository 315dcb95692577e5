// Reductions over dims, softmax family, norms. Free-function twins of the Tensor methods.
#pragma once

#include <utility>

#include "nabla/core/tensor.h"

namespace nabla {

Tensor sum(const Tensor& a);
Tensor sum(const Tensor& a, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, const Shape& dims, bool keepdim = false);
Tensor var(const Tensor& a, const Shape& dims, int64_t correction = 1, bool keepdim = false);
Tensor max(const Tensor& a);
Tensor min(const Tensor& a);
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& a);
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor softmax(const Tensor& a, int64_t dim);
Tensor log_softmax(const Tensor& a, int64_t dim);
Tensor logsumexp(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor norm(const Tensor& a, double p = 2.0);
Tensor norm(const Tensor& a, double p, const Shape& dims, bool keepdim = false);
/// Sums grad (broadcast from shape) back down to shape: the backward of broadcasting.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace nabla
