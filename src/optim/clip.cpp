// clip_grad_norm_: total gradient norm in double, then one in-place scale per gradient.
#include "nabla/optim/clip.h"

#include <cmath>
#include <type_traits>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/clip.h"

namespace nabla::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  NABLA_CHECK(norm_type > 0.0 && !std::isnan(norm_type),
              "clip_grad_norm_: norm_type must be a positive number or inf, got ", norm_type);
  NoGradGuard no_grad;
  const bool is_inf = std::isinf(norm_type);
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    check_defined("clip_grad_norm_", p, "parameter");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    NABLA_CHECK(g.is_contiguous(), "clip_grad_norm_: gradient ", g.describe(),
                " is not contiguous");
    grads.push_back(g);
  }
  if (grads.empty()) return 0.0;
  double acc = 0.0;  // sum |g|^p over all gradients, or max |g|
  for (const Tensor& g : grads) {
    const double part = dispatch_floating(g.dtype(), "clip_grad_norm_", [&](auto tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      return kernels::cpu::grad_norm_pow_sum(g.data<T>(), g.numel(), norm_type);
    });
    acc = is_inf ? (std::isnan(part) || std::isnan(acc) ? part + acc : std::max(acc, part))
                 : acc + part;
  }
  const double total = is_inf ? acc : std::pow(acc, 1.0 / norm_type);
  if (!std::isfinite(total)) return total;
  const double coef = max_norm / (total + 1e-6);
  if (coef >= 1.0) return total;
  for (Tensor& g : grads) {
    dispatch_floating(g.dtype(), "clip_grad_norm_", [&](auto tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      kernels::cpu::grad_scale(g.data<T>(), g.numel(), coef);
    });
    g.storage()->bump_version();
  }
  return total;
}

}  // namespace nabla::optim
