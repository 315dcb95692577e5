// Fused optimizer updates over flat contiguous buffers: one pass over (param, grad, state) per
// tensor. The arithmetic follows torch.optim 1.13's single-tensor code step by step, in the
// compute type (f32 for f32 and bf16 parameters, f64 for f64), so results match PyTorch's.
// State buffers (m, v, momentum) are f32 for bf16 parameters (f32 master state).
#pragma once

#include <cstdint>
#include <span>

#include "nabla/core/bf16.h"
#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

/// Adam hyperparameters for one step. step is the 1-based step count of this tensor.
struct AdamParams {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  int64_t step = 1;
  /// Each gradient is first multiplied by this and rounded to T, as clip_grad_norm_'s in-place
  /// scale stores it: the same bits as that scale followed by the update, in one pass.
  double grad_scale = 1.0;
};

/// AdamW (decoupled weight decay, torch.optim.AdamW): p *= 1 - lr*wd, then the Adam update.
/// param, grad, m, v: (n) each; m and v are updated in place.
void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n,
                  const AdamParams& h);
void adamw_update(double* param, const double* grad, double* m, double* v, int64_t n,
                  const AdamParams& h);
void adamw_update(BFloat16* param, const BFloat16* grad, float* m, float* v, int64_t n,
                  const AdamParams& h);

/// The flat-argument form: adamw_update(param, grad, m, v, n, lr, beta1, beta2, eps, wd, step).
void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int64_t step);

/// Adam with L2 weight decay (torch.optim.Adam): g += wd*p, then the Adam update.
/// param, grad, m, v: (n) each.
void adam_update(float* param, const float* grad, float* m, float* v, int64_t n,
                 const AdamParams& h);
void adam_update(double* param, const double* grad, double* m, double* v, int64_t n,
                 const AdamParams& h);
void adam_update(BFloat16* param, const BFloat16* grad, float* m, float* v, int64_t n,
                 const AdamParams& h);

/// One tensor of a multi-tensor Adam/AdamW update: param, grad, m, v hold n elements each;
/// m and v are in the compute type (f32 for bf16 parameters).
template <typename T>
struct AdamTensor {
  T* param;
  const T* grad;
  compute_t<T>* m;
  compute_t<T>* v;
  int64_t n;
  AdamParams h;
};

/// Updates every tensor in one parallel region: the tensors are cut into fixed chunks that the
/// threads share statically, so small tensors (biases, norms) cost no region of their own and
/// the work is balanced. decoupled: AdamW, else Adam. Same arithmetic as adamw_update.
void adam_update_multi(std::span<const AdamTensor<float>> tensors, bool decoupled);
void adam_update_multi(std::span<const AdamTensor<double>> tensors, bool decoupled);
void adam_update_multi(std::span<const AdamTensor<BFloat16>> tensors, bool decoupled);

/// SGD hyperparameters (torch.optim.SGD). first_step: the momentum buffer holds nothing yet
/// and is set to the (decayed) gradient, as torch does.
struct SGDParams {
  double lr = 0.0;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool first_step = false;
};

/// param, grad: (n); buf: (n) momentum buffer, or null when momentum == 0.
void sgd_update(float* param, const float* grad, float* buf, int64_t n, const SGDParams& h);
void sgd_update(double* param, const double* grad, double* buf, int64_t n, const SGDParams& h);
void sgd_update(BFloat16* param, const BFloat16* grad, float* buf, int64_t n, const SGDParams& h);

}  // namespace nabla::kernels::cpu
