// clip_grad_norm_: total gradient norm in double, then one in-place scale per gradient;
// grad_norm: the same norm and scale, for an optimizer step that applies the scale itself.
#include "nabla/optim/clip.h"

#include <cmath>
#include <type_traits>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/clip.h"

namespace nabla::optim {

namespace {

// The contiguous gradients of params (those that have one); op names the caller in errors.
std::vector<Tensor> grads_of(const char* op, const std::vector<Tensor>& params) {
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    check_defined(op, p, "parameter");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    NABLA_CHECK(g.is_contiguous(), op, ": gradient ", g.describe(), " is not contiguous");
    grads.push_back(g);
  }
  return grads;
}

GradNorm norm_of(const char* op, const std::vector<Tensor>& grads, double max_norm,
                 double norm_type) {
  NABLA_CHECK(norm_type > 0.0 && !std::isnan(norm_type), op,
              ": norm_type must be a positive number or inf, got ", norm_type);
  if (grads.empty()) return {};
  const bool is_inf = std::isinf(norm_type);
  double acc = 0.0;  // sum |g|^p over all gradients, or max |g|
  for (const Tensor& g : grads) {
    const double part = dispatch_floating(g.dtype(), op, [&](auto tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      return kernels::cpu::grad_norm_pow_sum(g.data<T>(), g.numel(), norm_type);
    });
    acc = is_inf ? (std::isnan(part) || std::isnan(acc) ? part + acc : std::max(acc, part))
                 : acc + part;
  }
  const double total = is_inf ? acc : std::pow(acc, 1.0 / norm_type);
  if (!std::isfinite(total)) return {total, 1.0};
  return {total, std::min(1.0, max_norm / (total + 1e-6))};
}

}  // namespace

GradNorm grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  NoGradGuard no_grad;
  return norm_of("grad_norm", grads_of("grad_norm", params), max_norm, norm_type);
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  NoGradGuard no_grad;
  std::vector<Tensor> grads = grads_of("clip_grad_norm_", params);
  const GradNorm n = norm_of("clip_grad_norm_", grads, max_norm, norm_type);
  if (n.scale >= 1.0) return n.total;
  for (Tensor& g : grads) {
    dispatch_floating(g.dtype(), "clip_grad_norm_", [&](auto tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      kernels::cpu::grad_scale(g.data<T>(), g.numel(), n.scale);
    });
    g.storage()->bump_version();
  }
  return n.total;
}

}  // namespace nabla::optim
