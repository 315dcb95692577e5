// nn::LayerNorm and nn::RMSNorm over the last dim (torch.nn.LayerNorm / torch.nn.RMSNorm with a
// one-element normalized_shape).
#pragma once

#include <optional>
#include <utility>

#include "nabla/nn/module.h"

namespace nabla::nn {

class LayerNorm : public Module {
 public:
  /// weight (C) = 1 and bias (C) = 0 when elementwise_affine (bias only when bias is true).
  explicit LayerNorm(int64_t normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     bool bias = true);
  /// x (..., C) -> (..., C).
  Tensor forward(const Tensor& x) override;
  /// The pre-norm residual step: {h, forward(h)} with h = x + residual, in one pass
  /// (add_layer_norm).
  std::pair<Tensor, Tensor> forward_add(const Tensor& x, const Tensor& residual);
  std::string name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;

  int64_t normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor weight;  ///< (C) or undefined
  Tensor bias;    ///< (C) or undefined
};

class RMSNorm : public Module {
 public:
  /// weight (C) = 1 when elementwise_affine. Without eps, the dtype's machine epsilon is used
  /// (torch.finfo(x.dtype).eps), as torch.nn.RMSNorm does.
  explicit RMSNorm(int64_t normalized_shape, std::optional<double> eps = std::nullopt,
                   bool elementwise_affine = true);
  /// x (..., C) -> (..., C).
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;

  int64_t normalized_shape;
  std::optional<double> eps;
  bool elementwise_affine;
  Tensor weight;  ///< (C) or undefined
};

}  // namespace nabla::nn
