// Adam and AdamW: option resolution, lazily created moments, and the fused update kernels.
#include "nabla/optim/adam.h"

#include <type_traits>

#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/adamw.h"
#include "nabla/kernels/cpu/copy.h"

namespace nabla::optim {

namespace {

AdamOptions from_adamw(const AdamWOptions& o) {
  return AdamOptions{.lr = o.lr, .betas = o.betas, .eps = o.eps, .weight_decay = o.weight_decay};
}

std::vector<ParamGroup> single_group(std::vector<Tensor> params) {
  std::vector<ParamGroup> groups;
  groups.push_back(ParamGroup{.params = std::move(params)});
  return groups;
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Adam(single_group(std::move(params)), options, false) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions defaults)
    : Adam(std::move(groups), defaults, false) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions defaults, bool decoupled)
    : defaults_(defaults), decoupled_(decoupled) {
  NABLA_CHECK(!groups.empty(), name(), ": optimizer got an empty parameter list");
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : Adam(single_group(std::move(params)), from_adamw(options), true) {}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions defaults)
    : Adam(std::move(groups), from_adamw(defaults), true) {}

void Adam::resolve_options(ParamGroup& g) const {
  NABLA_CHECK(!g.momentum && !g.dampening && !g.nesterov, name(),
              ": a parameter group sets momentum, dampening or nesterov, which ", name(),
              " does not use");
  g.lr = g.lr.value_or(defaults_.lr);
  g.betas = g.betas.value_or(defaults_.betas);
  g.eps = g.eps.value_or(defaults_.eps);
  g.weight_decay = g.weight_decay.value_or(defaults_.weight_decay);
  NABLA_CHECK(*g.lr >= 0.0, name(), ": invalid learning rate: ", *g.lr);
  NABLA_CHECK(*g.eps >= 0.0, name(), ": invalid epsilon value: ", *g.eps);
  NABLA_CHECK(g.betas->first >= 0.0 && g.betas->first < 1.0, name(),
              ": invalid beta parameter at index 0: ", g.betas->first);
  NABLA_CHECK(g.betas->second >= 0.0 && g.betas->second < 1.0, name(),
              ": invalid beta parameter at index 1: ", g.betas->second);
  NABLA_CHECK(*g.weight_decay >= 0.0, name(), ": invalid weight_decay value: ", *g.weight_decay);
}

std::vector<std::string> Adam::state_keys() const { return {"step", "exp_avg", "exp_avg_sq"}; }

void Adam::update(const std::vector<ParamUpdate>& updates) {
  // One multi-tensor kernel call per parameter dtype (usually just f32).
  std::vector<kernels::cpu::AdamTensor<float>> f32;
  std::vector<kernels::cpu::AdamTensor<double>> f64;
  std::vector<kernels::cpu::AdamTensor<BFloat16>> bf16;
  for (const ParamUpdate& u : updates) {
    ParamState& state = *u.state;
    const Tensor& p = u.param;
    if (!state.exp_avg.defined()) {
      const DType state_dtype = p.dtype() == kFloat64 ? kFloat64 : kFloat32;
      state.exp_avg = Tensor::empty(p.shape(), state_dtype);
      state.exp_avg_sq = Tensor::empty(p.shape(), state_dtype);
      kernels::cpu::fill(state.exp_avg.raw_data(), state_dtype, 0.0, p.numel());
      kernels::cpu::fill(state.exp_avg_sq.raw_data(), state_dtype, 0.0, p.numel());
    }
    state.step += 1;
    const ParamGroup& group = *u.group;
    const kernels::cpu::AdamParams h{.lr = *group.lr,
                                     .beta1 = group.betas->first,
                                     .beta2 = group.betas->second,
                                     .eps = *group.eps,
                                     .weight_decay = *group.weight_decay,
                                     .step = state.step,
                                     .grad_scale = u.grad_scale};
    dispatch_floating(p.dtype(), name().c_str(), [&](auto tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      using S = compute_t<T>;
      const kernels::cpu::AdamTensor<T> x{p.data<T>(), u.grad.data<T>(),
                                          state.exp_avg.data<S>(), state.exp_avg_sq.data<S>(),
                                          p.numel(), h};
      if constexpr (std::is_same_v<T, float>) {
        f32.push_back(x);
      } else if constexpr (std::is_same_v<T, double>) {
        f64.push_back(x);
      } else {
        bf16.push_back(x);
      }
    });
  }
  kernels::cpu::adam_update_multi(std::span<const kernels::cpu::AdamTensor<float>>(f32), decoupled_);
  kernels::cpu::adam_update_multi(std::span<const kernels::cpu::AdamTensor<double>>(f64), decoupled_);
  kernels::cpu::adam_update_multi(std::span<const kernels::cpu::AdamTensor<BFloat16>>(bf16),
                                  decoupled_);
}

}  // namespace nabla::optim
