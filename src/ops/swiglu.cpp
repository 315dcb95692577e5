// swiglu(a, b) = silu(a) * b: SwiGLU's gate as one op, one pass forward and one backward,
// without the silu(a) intermediate kept for the gradient.
#include "nabla/autograd/node.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/swiglu.h"
#include "nabla/ops/nn_functional.h"
#include "ops/nn_internal.h"

namespace nabla {

Tensor swiglu(const Tensor& a, const Tensor& b) {
  check_defined("swiglu", a, "gate");
  check_defined("swiglu", b, "up");
  check_same("swiglu", {{"gate", a}, {"up", b}});
  NABLA_CHECK_SHAPE(a.shape() == b.shape(), "swiglu: gate ", a.shape(), " and up ", b.shape(),
                    " must have the same shape");
  const Tensor ad = nn_detail::dense(a), bd = nn_detail::dense(b);
  const int64_t n = a.numel();
  return dispatch_floating(a.dtype(), "swiglu", [&](auto tag) {
    using F = std::remove_pointer_t<decltype(tag)>;
    Tensor y = Tensor::empty(a.shape(), a.dtype());
    kernels::cpu::swiglu_forward<F>(y.data<F>(), ad.data<F>(), bd.data<F>(), n);
    const Tensor as = ad.detach(), bs = bd.detach();
    return autograd::record("swiglu", y, {a, b}, [=](const Tensor& dy, autograd::Grads& g) {
      const Tensor dyd = nn_detail::dense(dy);
      Tensor da = g.needs(0) ? Tensor::empty(a.shape(), a.dtype()) : Tensor();
      Tensor db = g.needs(1) ? Tensor::empty(a.shape(), a.dtype()) : Tensor();
      kernels::cpu::swiglu_backward<F>(da.defined() ? da.data<F>() : nullptr,
                                       db.defined() ? db.data<F>() : nullptr, dyd.data<F>(),
                                       as.data<F>(), bs.data<F>(), n);
      if (da.defined()) g.add(0, da);
      if (db.defined()) g.add(1, db);
    });
  });
}

}  // namespace nabla
