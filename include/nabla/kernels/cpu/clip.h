// Gradient-norm pieces for clip_grad_norm_: a deterministic p-norm accumulation in double and
// an in-place scale, over flat contiguous buffers.
#pragma once

#include <cstdint>

#include "nabla/core/bf16.h"

namespace nabla::kernels::cpu {

/// x: (n). sum |x_i|^p in double for finite p > 0, or max |x_i| for p = +inf (NaN if any x_i
/// is NaN). Sums fixed blocks in parallel, then adds the block sums in order, so the result is
/// the same for every thread count.
double grad_norm_pow_sum(const float* x, int64_t n, double p);
double grad_norm_pow_sum(const double* x, int64_t n, double p);
double grad_norm_pow_sum(const BFloat16* x, int64_t n, double p);

/// x: (n). x_i *= coef (coef rounded once to the compute type, f32 for f32/bf16).
void grad_scale(float* x, int64_t n, double coef);
void grad_scale(double* x, int64_t n, double coef);
void grad_scale(BFloat16* x, int64_t n, double coef);

}  // namespace nabla::kernels::cpu
