// rotary_embedding: Llama's RoPE as one op (one kernel pass instead of a dozen view and
// element-wise ops), its backward the inverse rotation.
#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/rotary.h"
#include "nabla/ops/nn_functional.h"
#include "ops/nn_internal.h"

namespace nabla {

Tensor rotary_embedding(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  check_defined("rotary_embedding", x, "input");
  check_defined("rotary_embedding", cos, "cos");
  check_defined("rotary_embedding", sin, "sin");
  NABLA_CHECK_SHAPE(x.dim() == 4 && x.size(3) % 2 == 0 && cos.dim() == 2 &&
                        cos.size(0) == x.size(1) && cos.size(1) * 2 == x.size(3) &&
                        sin.shape() == cos.shape(),
                    "rotary_embedding: expected input (B, T, H, D) with D even and cos/sin "
                    "(T, D/2), got input ", x.shape(), ", cos ", cos.shape(), ", sin ",
                    sin.shape());
  check_same("rotary_embedding", {{"input", x}, {"cos", cos}, {"sin", sin}});
  NABLA_CHECK(!autograd::is_grad_enabled() || (!cos.requires_grad() && !sin.requires_grad()),
              "rotary_embedding: cos and sin are constant tables; they cannot require grad");
  const int64_t B = x.size(0), T = x.size(1), H = x.size(2), D = x.size(3);
  const Tensor xd = nn_detail::dense(x), cd = nn_detail::dense(cos), sd = nn_detail::dense(sin);
  return dispatch_floating(x.dtype(), "rotary_embedding", [&](auto tag) {
    using F = std::remove_pointer_t<decltype(tag)>;
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    kernels::cpu::rotary_embedding<F>(y.data<F>(), xd.data<F>(), cd.data<F>(), sd.data<F>(), B, T,
                                      H, D, 1);
    const Tensor cs = cd.detach(), ss = sd.detach();
    return autograd::record("rotary_embedding", y, {x}, [=](const Tensor& dy, autograd::Grads& g) {
      if (!g.needs(0)) return;
      const Tensor dyd = nn_detail::dense(dy);
      Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
      kernels::cpu::rotary_embedding<F>(dx.data<F>(), dyd.data<F>(), cs.data<F>(), ss.data<F>(), B,
                                        T, H, D, -1);
      g.add(0, dx);
    });
  });
}

}  // namespace nabla
