// nn::Dropout: zeroes elements with probability p while training, identity in eval mode.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

class Dropout : public Module {
 public:
  /// p in [0, 1]; throws otherwise.
  explicit Dropout(double p = 0.5);
  /// Draws its mask from the default generator (see nabla::dropout).
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Dropout"; }
  std::string extra_repr() const override;

  double p;
};

}  // namespace nabla::nn
