// dropout: the mask comes from the generator's Philox stream (seed, offset) and is regenerated
// in backward from the same two numbers instead of being stored.
#include "nabla/autograd/node.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/dropout.h"
#include "nabla/ops/nn_functional.h"
#include "ops/nn_internal.h"

namespace nabla {

// x: any shape; the mask indexes x's elements in row-major order.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  check_defined("dropout", x, "input");
  NABLA_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability has to be between 0 and 1, but got ", p);
  if (!training || p == 0.0) return x;
  Generator& g = gen ? *gen : default_generator();
  const int64_t n = x.numel();
  const uint64_t seed = g.seed(), offset = g.advance(static_cast<uint64_t>(n));
  const Tensor xd = nn_detail::dense(x);
  return dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    kernels::cpu::dropout_forward<T>(y.data<T>(), xd.data<T>(), n, p, seed, offset);
    return autograd::record("dropout", y, {x}, [=](const Tensor& dy, autograd::Grads& grads) {
      T* dx = grads.ptr<T>(0);  // zeroed: with p == 1 it stays all zeros
      if (dx) kernels::cpu::dropout_backward<T>(dx, dy.data<T>(), n, p, seed, offset);
    });
  });
}

}  // namespace nabla
