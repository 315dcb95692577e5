// Gradient clipping by total norm (torch.nn.utils.clip_grad_norm_).
#pragma once

#include <vector>

#include "nabla/core/tensor.h"

namespace nabla::optim {

/// Scales the gradients of params in place so that their total norm_type-norm (the norm of
/// all gradient elements together) is at most max_norm, and returns the total norm before
/// clipping. Like torch: parameters without a gradient are ignored (no gradients: returns 0),
/// the scale is max_norm / (total_norm + 1e-6) and is applied only when below 1.
/// norm_type is a finite p > 0 or +inf (max |g|). The norm is computed in double over fixed
/// blocks, so it is deterministic. A non-finite total norm (inf or NaN gradients) is returned
/// and the gradients are left unscaled (torch would multiply them by 0 or NaN), so the caller
/// can detect it and skip the step.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

/// What clip_grad_norm_ measures: the total norm, and the factor it would scale the gradients
/// by (1 when the norm is within max_norm or is not finite).
struct GradNorm {
  double total = 0.0;
  double scale = 1.0;
};

/// clip_grad_norm_ without the scaling: the gradients are left untouched, so that the scale
/// can be applied inside the optimizer's own pass over them (Optimizer::step(grad_scale)),
/// which saves a read and a write of every gradient and gives the same parameters, bit for
/// bit, as clip_grad_norm_ followed by step().
GradNorm grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

}  // namespace nabla::optim
