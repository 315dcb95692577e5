// attention_decode and causal_attention: checks, then the fused kernels over strided views
// (heads of a projection, a KV cache); causal_attention records its hand-written backward.
#include "nabla/ops/attention.h"

#include "nabla/autograd/node.h"
#include "nabla/core/error.h"
#include "nabla/kernels/cpu/attention.h"
#include "nabla/kernels/cpu/flash_attention.h"
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

namespace {

// T: float or double. Records the node that runs flash_attention_backward on the saved out
// and lse; the dropout mask is regenerated from (seed, offset).
template <typename T>
Tensor causal_attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                             const kernels::cpu::AttentionDropout& drop) {
  using kernels::cpu::HeadStrides;
  const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), D = q.size(3);
  const kernels::cpu::FlashAttentionShape s{B, H, k.size(1), Tq, k.size(2), D};
  // The kernel walks D contiguously; other dims may have any stride (head views, caches).
  const Tensor qc = q.stride(3) == 1 ? q : q.contiguous();
  const Tensor kc = k.stride(3) == 1 ? k : k.contiguous();
  const Tensor vc = v.stride(3) == 1 ? v : v.contiguous();
  const HeadStrides qs{qc.stride(0), qc.stride(1), qc.stride(2)};
  const HeadStrides ks{kc.stride(0), kc.stride(1), kc.stride(2)};
  const HeadStrides vs{vc.stride(0), vc.stride(1), vc.stride(2)};
  Tensor out = empty({B, H, Tq, D}, q.dtype()), lse = empty({B, H, Tq}, q.dtype());
  kernels::cpu::flash_attention_forward<T>(out.data<T>(), lse.data<T>(), qc.data<T>(), qs,
                                           kc.data<T>(), ks, vc.data<T>(), vs, s, scale, drop);
  const Tensor saved = out.detach();
  return autograd::record(
      "causal_attention", out, {q, k, v}, [=](const Tensor& dy, autograd::Grads& g) {
        // The kernel writes all three gradients; scratch stands in for unneeded ones.
        Tensor scratch[3];
        T* ptrs[3];
        const Tensor* ins[3] = {&qc, &kc, &vc};
        for (size_t i = 0; i < 3; ++i) {
          if (g.needs(i)) {
            ptrs[i] = g.ptr<T>(i);
          } else {
            scratch[i] = zeros(ins[i]->shape(), ins[i]->dtype());
            ptrs[i] = scratch[i].data<T>();
          }
        }
        kernels::cpu::flash_attention_backward<T>(
            ptrs[0], ptrs[1], ptrs[2], dy.data<T>(), saved.data<T>(), lse.data<T>(),
            qc.data<T>(), qs, kc.data<T>(), ks, vc.data<T>(), vs, s, scale, drop);
      });
}

}  // namespace

Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                        double dropout_p, Generator* gen) {
  NABLA_CHECK(q.defined() && k.defined() && v.defined(), "causal_attention: undefined input");
  NABLA_CHECK_DTYPE(
      q.dtype() == k.dtype() && q.dtype() == v.dtype() &&
          (q.dtype() == kFloat32 || q.dtype() == kFloat64),
      "causal_attention: q, k, v must all be f32 (or f64), got ", q.dtype(), ", ", k.dtype(),
      ", ", v.dtype());
  NABLA_CHECK_T(DeviceError, q.device() == k.device() && q.device() == v.device(),
                "causal_attention: expected q, k, v on the same device, got ", q.device(), ", ",
                k.device(), ", ", v.device());
  NABLA_CHECK_SHAPE(q.dim() == 4 && k.dim() == 4 && k.shape() == v.shape() &&
                        q.size(0) == k.size(0) && q.size(3) == k.size(3) && k.size(1) > 0 &&
                        q.size(1) % k.size(1) == 0 && q.size(2) <= k.size(2),
                    "causal_attention: expected q (B, H, Tq, D) and k, v (B, Hkv, Tk, D) with "
                    "H a multiple of Hkv and Tq <= Tk, got q ", q.shape(), ", k ", k.shape(),
                    ", v ", v.shape());
  NABLA_CHECK(dropout_p >= 0.0 && dropout_p < 1.0,
              "causal_attention: dropout probability must be in [0, 1), got ", dropout_p);
  kernels::cpu::AttentionDropout drop;
  if (dropout_p > 0.0) {
    Generator& g = gen ? *gen : default_generator();
    // One counter per (b, h, i, j), as dropout over the (B, H, Tq, Tk) probabilities draws.
    drop = {dropout_p, g.seed(),
            g.advance(static_cast<uint64_t>(q.size(0) * q.size(1) * q.size(2) * k.size(2)))};
  }
  if (q.dtype() == kFloat64) return causal_attention_impl<double>(q, k, v, scale, drop);
  return causal_attention_impl<float>(q, k, v, scale, drop);
}

}  // namespace nabla
