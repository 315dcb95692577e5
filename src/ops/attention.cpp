// attention_decode: checks, then the fused kernel over strided views of the cache.
#include "nabla/ops/attention.h"

#include "nabla/autograd/node.h"
#include "nabla/core/error.h"
#include "nabla/kernels/cpu/attention.h"
#include "nabla/ops/creation.h"

namespace nabla {

Tensor attention_decode(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  NABLA_CHECK(q.defined() && k.defined() && v.defined(), "attention_decode: undefined input");
  NABLA_CHECK(!autograd::needs_graph({q, k, v}), "attention_decode: records no gradient; an "
              "input requires one (run under NoGradGuard, or use the model's training path)");
  NABLA_CHECK_DTYPE(q.dtype() == kFloat32 && k.dtype() == kFloat32 && v.dtype() == kFloat32,
                    "attention_decode: q, k, v must be f32, got ", q.dtype(), ", ", k.dtype(),
                    ", ", v.dtype());
  NABLA_CHECK(q.device() == k.device() && q.device() == v.device(),
                     "attention_decode: q, k, v on ", q.device(), ", ", k.device(), ", ",
                     v.device());
  NABLA_CHECK_SHAPE(q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && q.size(2) == 1 &&
                        k.shape() == v.shape() && q.size(0) == k.size(0) &&
                        q.size(3) == k.size(3) && k.size(1) > 0 && q.size(1) % k.size(1) == 0 &&
                        k.size(2) > 0,
                    "attention_decode: expected q (B, H, 1, D) and k, v (B, Hkv, Tk, D) with H a "
                    "multiple of Hkv and Tk > 0, got q ", q.shape(), ", k ", k.shape(), ", v ",
                    v.shape());
  const int64_t B = q.size(0), H = q.size(1), Hkv = k.size(1), Tk = k.size(2), D = q.size(3);
  // The kernel walks D contiguously; other dims may have any stride (cache views).
  const Tensor qc = q.stride(3) == 1 ? q : q.contiguous();
  const Tensor kc = k.stride(3) == 1 ? k : k.contiguous();
  const Tensor vc = v.stride(3) == 1 ? v : v.contiguous();
  Tensor out = empty({B, H, 1, D}, kFloat32);
  using kernels::cpu::HeadStrides;
  kernels::cpu::attention_decode(
      B, H, Hkv, Tk, D, static_cast<float>(scale), qc.data<float>(),
      HeadStrides{qc.stride(0), qc.stride(1), 0}, kc.data<float>(),
      HeadStrides{kc.stride(0), kc.stride(1), kc.stride(2)}, vc.data<float>(),
      HeadStrides{vc.stride(0), vc.stride(1), vc.stride(2)}, out.data<float>(),
      HeadStrides{H * D, D, 0});
  return out;
}

}  // namespace nabla
