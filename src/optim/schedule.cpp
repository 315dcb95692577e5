// Learning-rate schedules: closed forms of the step count, so resuming needs only last_epoch.
#include "nabla/optim/schedule.h"

#include <cmath>
#include <numbers>
#include <set>

namespace nabla::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (const ParamGroup& g : optimizer.param_groups()) {
    NABLA_CHECK(g.lr.has_value(), "LRScheduler: a parameter group has no lr");
    base_lrs_.push_back(*g.lr);
  }
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

void LRScheduler::apply() {
  auto& groups = optimizer_.param_groups();
  NABLA_CHECK(groups.size() == base_lrs_.size(), "LRScheduler: the optimizer has ", groups.size(),
              " parameter groups, the scheduler was made for ", base_lrs_.size());
  last_lr_.clear();
  for (size_t g = 0; g < groups.size(); ++g) {
    const double lr = lr_at(last_epoch_, base_lrs_[g]);
    groups[g].lr = lr;
    last_lr_.push_back(lr);
  }
}

StateDict LRScheduler::state_dict() const {
  Tensor epoch = Tensor::empty({}, kInt64);
  epoch.data<int64_t>()[0] = last_epoch_;
  Tensor base = Tensor::empty({static_cast<int64_t>(base_lrs_.size())}, kFloat64);
  for (size_t i = 0; i < base_lrs_.size(); ++i) base.data<double>()[i] = base_lrs_[i];
  return {{"last_epoch", epoch}, {"base_lrs", base}};
}

void LRScheduler::load_state_dict(const StateDict& dict) {
  Tensor epoch, base;
  for (const auto& [key, t] : dict) {
    if (key == "last_epoch") {
      epoch = t;
    } else if (key == "base_lrs") {
      base = t;
    } else {
      NABLA_CHECK(false, "LRScheduler: load_state_dict: unexpected key ", key);
    }
  }
  NABLA_CHECK(epoch.defined(), "LRScheduler: load_state_dict: missing key last_epoch");
  NABLA_CHECK(base.defined(), "LRScheduler: load_state_dict: missing key base_lrs");
  NABLA_CHECK_SHAPE(epoch.numel() == 1, "LRScheduler: load_state_dict: last_epoch has shape ",
                    epoch.shape(), ", expected one value");
  NABLA_CHECK_SHAPE(base.dim() == 1 && base.numel() == static_cast<int64_t>(base_lrs_.size()),
                    "LRScheduler: load_state_dict: base_lrs has shape ", base.shape(),
                    ", expected [", base_lrs_.size(), "] (one per parameter group)");
  const double e = epoch.to_vector()[0];
  NABLA_CHECK(e >= 0, "LRScheduler: load_state_dict: last_epoch must be >= 0, got ", e);
  base_lrs_ = base.to_vector();
  last_epoch_ = static_cast<int64_t>(e);
  apply();
}

ConstantLR::ConstantLR(Optimizer& optimizer, double factor, int64_t total_iters)
    : LRScheduler(optimizer), factor_(factor), total_iters_(total_iters) {
  NABLA_CHECK(factor >= 0.0 && factor <= 1.0,
              "ConstantLR: constant factor expected to be between 0 and 1, got ", factor);
  step();
}

double ConstantLR::lr_at(int64_t step, double base_lr) const {
  return step < total_iters_ ? base_lr * factor_ : base_lr;
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  NABLA_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  step();
}

double StepLR::lr_at(int64_t step, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(step / step_size_));
}

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> lr_lambda)
    : LRScheduler(optimizer), lr_lambda_(std::move(lr_lambda)) {
  NABLA_CHECK(static_cast<bool>(lr_lambda_), "LambdaLR: lr_lambda is empty");
  step();
}

double LambdaLR::lr_at(int64_t step, double base_lr) const { return base_lr * lr_lambda_(step); }

double cosine_with_warmup_lr(int64_t it, int64_t warmup_steps, int64_t max_steps, double lr_max,
                             double lr_min) {
  if (it < warmup_steps) {
    return lr_max * static_cast<double>(it + 1) / static_cast<double>(warmup_steps + 1);
  }
  if (it > max_steps) return lr_min;
  const double decay_ratio =
      static_cast<double>(it - warmup_steps) / static_cast<double>(max_steps - warmup_steps);
  const double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * decay_ratio));
  return lr_min + coeff * (lr_max - lr_min);
}

CosineWithWarmup::CosineWithWarmup(Optimizer& optimizer, int64_t warmup_steps, int64_t max_steps,
                                   double lr_max, double lr_min)
    : LRScheduler(optimizer),
      warmup_steps_(warmup_steps),
      max_steps_(max_steps),
      lr_max_(lr_max),
      lr_min_(lr_min) {
  NABLA_CHECK(warmup_steps >= 0 && max_steps > warmup_steps,
              "CosineWithWarmup: need 0 <= warmup_steps < max_steps, got warmup_steps ",
              warmup_steps, " and max_steps ", max_steps);
  NABLA_CHECK(lr_max >= lr_min && lr_min >= 0.0,
              "CosineWithWarmup: need 0 <= lr_min <= lr_max, got lr_min ", lr_min, " and lr_max ",
              lr_max);
  step();
}

double CosineWithWarmup::lr_at(int64_t step, double /*base_lr*/) const {
  return cosine_with_warmup_lr(step, warmup_steps_, max_steps_, lr_max_, lr_min_);
}

}  // namespace nabla::optim
