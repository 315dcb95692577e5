// sum_to: the backward of broadcasting. Sums grad over the leading dims it has beyond shape
// and over the dims where shape is 1, like at::sum_to.
#include "nabla/autograd/node.h"
#include "nabla/kernels/cpu/copy.h"
#include "nabla/kernels/cpu/elementwise.h"
#include "nabla/ops/reduce.h"
#include "ops/elementwise_common.h"

namespace nabla {

namespace {

// t (broadcastable to shape) materialised as a contiguous tensor of that shape.
Tensor broadcast_copy(const Tensor& t, const Shape& shape) {
  Tensor out = Tensor::empty(shape, t.dtype());
  const kernels::cpu::Geometry g = elementwise::geometry(shape, {&out, &t});
  kernels::cpu::copy_strided(out.raw_data(), t.raw_data(), t.element_size(), shape.data(),
                             g.strides[1].data(), static_cast<int64_t>(shape.size()));
  return out;
}

}  // namespace

// grad: (..., *shape broadcast) -> shape
Tensor sum_to(const Tensor& grad, const Shape& shape) {
  check_defined("sum_to", grad, "grad");
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  bool ok = lead >= 0;
  for (int64_t i = 0; ok && i < static_cast<int64_t>(shape.size()); ++i) {
    ok = shape[i] == 1 || shape[i] == grad.size(lead + i);
  }
  NABLA_CHECK_SHAPE(ok, "sum_to: shape ", shape, " is not expandable to size ", grad.shape());
  NABLA_CHECK_DTYPE(grad.dtype() != kBool, "sum_to: bool tensors cannot be summed");
  Tensor out = Tensor::empty(shape, grad.dtype());
  kernels::cpu::sum_to(grad.dtype(), elementwise::geometry(grad.shape(), {&out, &grad}),
                       out.raw_data(), grad.raw_data());
  const Shape grad_shape = grad.shape();
  return autograd::record("sum_to", out, {grad}, [grad_shape](const Tensor& dy, autograd::Grads& g) {
    g.add(0, broadcast_copy(dy, grad_shape));
  });
}

}  // namespace nabla
