// SGD with momentum, dampening, Nesterov and L2 weight decay: torch.optim.SGD 1.13 exactly.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "nabla/optim/optimizer.h"

namespace nabla::optim {

/// torch.optim.SGD's arguments. lr has no default (as in torch): leaving it unset throws.
struct SGDOptions {
  double lr = std::numeric_limits<double>::quiet_NaN();
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

/// Per parameter, with g its gradient (torch.optim.SGD):
///   g = g + weight_decay * p                               (when weight_decay != 0)
///   b = g on the first step, else b = momentum * b + (1 - dampening) * g   (momentum != 0)
///   g = nesterov ? g + momentum * b : b                                    (momentum != 0)
///   p = p - lr * g
///
/// Nielsen's mini-batch SGD ("Neural Networks and Deep Learning", network.py), where nw sums
/// the per-example gradients of the mini-batch,
///   w <- w - (eta / len(mini_batch)) * nw
/// is SGD with lr = eta on the mini-batch *mean* of the per-example costs (the gradient of
/// the mean is nw / len(mini_batch)):
///   optim::SGD opt(net->parameters(), {.lr = eta});
///   opt.zero_grad();
///   loss_sum.div(batch_size).backward();   // or: SGDOptions{.lr = eta / batch_size} on a sum
///   opt.step();
/// network2.py's L2 term, w <- (1 - eta * lmbda / n) * w - (eta / m) * nw, is the same with
/// SGDOptions{.lr = eta, .weight_decay = lmbda / n}, since p - lr * (g + wd * p) =
/// (1 - lr * wd) * p - lr * g.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options);
  SGD(std::vector<ParamGroup> groups, SGDOptions defaults);
  std::string name() const override { return "SGD"; }
  const SGDOptions& defaults() const { return defaults_; }

 protected:
  void resolve_options(ParamGroup& group) const override;
  void update(const std::vector<ParamUpdate>& updates) override;
  std::vector<std::string> state_keys() const override;

 private:
  SGDOptions defaults_;
};

}  // namespace nabla::optim
