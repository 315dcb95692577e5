// SGD: option resolution and the per-parameter update via the fused sgd_update kernel.
#include "nabla/optim/sgd.h"

#include <cmath>
#include <type_traits>
#include <vector>

#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/adamw.h"
#include "nabla/kernels/cpu/clip.h"

namespace nabla::optim {

SGD::SGD(std::vector<Tensor> params, SGDOptions options) : defaults_(options) {
  add_param_group(ParamGroup{.params = std::move(params)});
}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions defaults) : defaults_(defaults) {
  NABLA_CHECK(!groups.empty(), "SGD: optimizer got an empty parameter list");
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

void SGD::resolve_options(ParamGroup& g) const {
  NABLA_CHECK(!g.betas && !g.eps, "SGD: a parameter group sets betas or eps, which SGD does not use");
  g.lr = g.lr.value_or(defaults_.lr);
  g.momentum = g.momentum.value_or(defaults_.momentum);
  g.dampening = g.dampening.value_or(defaults_.dampening);
  g.weight_decay = g.weight_decay.value_or(defaults_.weight_decay);
  g.nesterov = g.nesterov.value_or(defaults_.nesterov);
  NABLA_CHECK(!std::isnan(*g.lr), "SGD: lr is required (SGDOptions{.lr = ...})");
  NABLA_CHECK(*g.lr >= 0.0, "SGD: invalid learning rate: ", *g.lr);
  NABLA_CHECK(*g.momentum >= 0.0, "SGD: invalid momentum value: ", *g.momentum);
  NABLA_CHECK(*g.weight_decay >= 0.0, "SGD: invalid weight_decay value: ", *g.weight_decay);
  NABLA_CHECK(!*g.nesterov || (*g.momentum > 0.0 && *g.dampening == 0.0),
              "SGD: Nesterov momentum requires a momentum and zero dampening (momentum ",
              *g.momentum, ", dampening ", *g.dampening, ")");
}

std::vector<std::string> SGD::state_keys() const { return {"momentum_buffer"}; }

void SGD::update(const std::vector<ParamUpdate>& updates) {
  for (const ParamUpdate& u : updates) {
    const ParamGroup& group = *u.group;
    ParamState& state = *u.state;
    kernels::cpu::SGDParams h{.lr = *group.lr,
                              .momentum = *group.momentum,
                              .dampening = *group.dampening,
                              .weight_decay = *group.weight_decay,
                              .nesterov = *group.nesterov,
                              .first_step = false};
    const bool use_buffer = h.momentum != 0.0;
    if (use_buffer && !state.momentum_buffer.defined()) {
      const DType state_dtype = u.param.dtype() == kFloat64 ? kFloat64 : kFloat32;
      state.momentum_buffer = Tensor::empty(u.param.shape(), state_dtype);
      h.first_step = true;  // torch: buf = clone(d_p)
    }
    dispatch_floating(u.param.dtype(), "SGD", [&](auto tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      using S = compute_t<T>;
      const T* grad = u.grad.data<T>();
      std::vector<T> scaled;  // step(grad_scale): a scaled copy (SGD is no trainer's hot path)
      if (u.grad_scale != 1.0) {
        scaled.assign(grad, grad + u.grad.numel());
        kernels::cpu::grad_scale(scaled.data(), u.grad.numel(), u.grad_scale);
        grad = scaled.data();
      }
      kernels::cpu::sgd_update(u.param.data<T>(), grad,
                               use_buffer ? state.momentum_buffer.data<S>() : nullptr,
                               u.param.numel(), h);
    });
  }
}

}  // namespace nabla::optim
