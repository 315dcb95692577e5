// Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay): torch.optim
// 1.13's Adam and AdamW (amsgrad=False, maximize=False) exactly, one fused pass per tensor.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nabla/optim/optimizer.h"

namespace nabla::optim {

/// torch.optim.Adam's arguments and defaults.
struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
};

/// torch.optim.AdamW's arguments and defaults (weight_decay 1e-2).
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

/// Per parameter at step t (1-based), with g its gradient (torch.optim.Adam):
///   g = g + weight_decay * p                                (Adam, when weight_decay != 0)
///   p = p * (1 - lr * weight_decay)                         (AdamW instead)
///   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
///   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// m and v start at zero and have the parameter's shape (f32 for bf16 parameters).
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, AdamOptions options = {});
  explicit Adam(std::vector<ParamGroup> groups, AdamOptions defaults = {});
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  const AdamOptions& defaults() const { return defaults_; }

 protected:
  Adam(std::vector<ParamGroup> groups, AdamOptions defaults, bool decoupled);
  void resolve_options(ParamGroup& group) const override;
  void update(const std::vector<ParamUpdate>& updates) override;
  std::vector<std::string> state_keys() const override;

 private:
  AdamOptions defaults_;
  bool decoupled_ = false;
};

/// Adam with decoupled weight decay (Loshchilov & Hutter 2019; torch.optim.AdamW).
class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> params, AdamWOptions options = {});
  explicit AdamW(std::vector<ParamGroup> groups, AdamWOptions defaults = {});
};

}  // namespace nabla::optim
