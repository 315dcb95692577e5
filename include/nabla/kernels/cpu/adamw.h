// Fused optimizer updates over flat contiguous buffers: one pass over (param, grad, state) per
// tensor. The arithmetic follows torch.optim 1.13's single-tensor code step by step, in the
// compute type (f32 for f32 and bf16 parameters, f64 for f64), so results match PyTorch's.
// State buffers (m, v, momentum) are f32 for bf16 parameters (f32 master state).
#pragma once

#include <cstdint>

#include "nabla/core/bf16.h"

namespace nabla::kernels::cpu {

/// Adam hyperparameters for one step. step is the 1-based step count of this tensor.
struct AdamParams {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  int64_t step = 1;
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
