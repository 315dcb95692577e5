// Learning-rate schedules (torch.optim.lr_scheduler): each sets every group's lr from a
// closed-form function of the step count. Like torch, constructing a scheduler applies step 0,
// and each step() advances one step: call opt.step() then sched.step() in the training loop.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "nabla/optim/optimizer.h"

namespace nabla::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one step and sets each group's lr to lr_at(last_epoch(), base lr of the group).
  void step();
  /// The lr of each group as set by the latest step.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// Steps taken since construction (0 right after it), torch's last_epoch.
  int64_t last_epoch() const { return last_epoch_; }
  /// The groups' lrs when the scheduler was made (torch's base_lrs).
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  /// "last_epoch" (0-d int64) and "base_lrs" (float64 [groups]), for resume.
  StateDict state_dict() const;
  /// Restores state_dict() and sets the groups' lrs for that step.
  void load_state_dict(const StateDict& dict);
  /// The lr of a group with base lr base_lr at step (>= 0).
  virtual double lr_at(int64_t step, double base_lr) const = 0;

 protected:
  /// Records the groups' current lrs as base lrs. Derived constructors call step() once
  /// at the end (torch's _initial_step), since lr_at is virtual.
  explicit LRScheduler(Optimizer& optimizer);

 private:
  void apply();
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_epoch_ = -1;
};

/// lr = base_lr * factor for step < total_iters, then base_lr (torch.optim.lr_scheduler.ConstantLR).
class ConstantLR : public LRScheduler {
 public:
  explicit ConstantLR(Optimizer& optimizer, double factor = 1.0 / 3.0, int64_t total_iters = 5);
  double lr_at(int64_t step, double base_lr) const override;

 private:
  double factor_;
  int64_t total_iters_;
};

/// lr = base_lr * gamma^(step / step_size) (torch's StepLR, in closed form).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t step, double base_lr) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

/// lr = base_lr * lr_lambda(step) (torch's LambdaLR with one function for all groups).
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> lr_lambda);
  double lr_at(int64_t step, double base_lr) const override;

 private:
  std::function<double(int64_t)> lr_lambda_;
};

/// nanoGPT's get_lr (karpathy/nanoGPT train.py, current version), with it = step:
///   it < warmup_steps:   lr_max * (it + 1) / (warmup_steps + 1)
///   it > max_steps:      lr_min
///   otherwise:           lr_min + 0.5 * (1 + cos(pi * (it - warmup_steps) /
///                                    (max_steps - warmup_steps))) * (lr_max - lr_min)
/// The warmup starts at lr_max / (warmup_steps + 1), not 0, and reaches lr_max at it =
/// warmup_steps (the cosine's start); lr_min from max_steps on.
double cosine_with_warmup_lr(int64_t it, int64_t warmup_steps, int64_t max_steps, double lr_max,
                             double lr_min);

/// Sets every group's lr to cosine_with_warmup_lr(step, ...), whatever its base lr (as
/// nanoGPT does for all its groups).
class CosineWithWarmup : public LRScheduler {
 public:
  CosineWithWarmup(Optimizer& optimizer, int64_t warmup_steps, int64_t max_steps, double lr_max,
                   double lr_min);
  double lr_at(int64_t step, double base_lr) const override;

 private:
  int64_t warmup_steps_;
  int64_t max_steps_;
  double lr_max_;
  double lr_min_;
};

}  // namespace nabla::optim
