// nn::Linear: y = x W^T + b (torch.nn.Linear), with PyTorch's default initialisation.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

class Linear : public Module {
 public:
  /// weight (out, in) ~ kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in));
  /// bias (out) ~ U(-1/sqrt(in), 1/sqrt(in)).
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  /// x (..., in) -> (..., out).
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Linear"; }
  std::string extra_repr() const override;
  /// Re-draws weight and bias as the constructor does.
  void reset_parameters();

  int64_t in_features, out_features;
  Tensor weight;  ///< (out, in)
  Tensor bias;    ///< (out), undefined without bias
};

}  // namespace nabla::nn
