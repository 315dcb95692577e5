// Loss modules: each forward is one functional loss with the module's options.
#include "nabla/nn/loss.h"

namespace nabla::nn {

Tensor MSELoss::forward(const Tensor& input, const Tensor& target) {
  return mse_loss(input, target, reduction);
}

Tensor BCELoss::forward(const Tensor& input, const Tensor& target) {
  return binary_cross_entropy(input, target, reduction);
}

Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) {
  return binary_cross_entropy_with_logits(input, target, reduction);
}

CrossEntropyLoss::CrossEntropyLoss(CrossEntropyLossOptions opts)
    : options(opts) {
  NABLA_CHECK(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0,
              "CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got ",
              options.label_smoothing);
}

Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) {
  return cross_entropy(input, target, options.reduction, options.ignore_index, options.label_smoothing);
}

Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) {
  return nll_loss(input, target, options.reduction, options.ignore_index);
}

}  // namespace nabla::nn
