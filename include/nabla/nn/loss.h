// Loss modules (torch.nn.MSELoss, ...): forward(input, target) over the functional losses.
// loss(input, target) calls forward; the one-argument forward of Module is not used.
#pragma once

#include <cstdint>

#include "nabla/nn/module.h"
#include "nabla/ops/nn_functional.h"

namespace nabla::nn {

/// Base of the losses: forward(input, target) and operator()(input, target).
class Loss : public Module {
 public:
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  using Module::forward;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(Reduction r = Reduction::Mean) : reduction(r) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string name() const override { return "MSELoss"; }

  Reduction reduction;
};

/// input: probabilities in [0, 1].
class BCELoss : public Loss {
 public:
  explicit BCELoss(Reduction r = Reduction::Mean) : reduction(r) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string name() const override { return "BCELoss"; }

  Reduction reduction;
};

/// input: logits (the sigmoid is fused in, stable for large |x|).
class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(Reduction r = Reduction::Mean) : reduction(r) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string name() const override { return "BCEWithLogitsLoss"; }

  Reduction reduction;
};

struct CrossEntropyLossOptions {
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
};

/// logits (N, C), (N, C, d...) or (C) against int64 class targets.
class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(CrossEntropyLossOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string name() const override { return "CrossEntropyLoss"; }

  CrossEntropyLossOptions options;
};

struct NLLLossOptions {
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
};

/// log-probabilities (N, C), (N, C, d...) or (C) against int64 class targets.
class NLLLoss : public Loss {
 public:
  explicit NLLLoss(NLLLossOptions opts = {}) : options(opts) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string name() const override { return "NLLLoss"; }

  NLLLossOptions options;
};

}  // namespace nabla::nn
