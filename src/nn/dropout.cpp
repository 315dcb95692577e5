// nn::Dropout: forwards to nabla::dropout with the module's training flag.
#include "nabla/nn/dropout.h"

#include "nabla/ops/nn_functional.h"

namespace nabla::nn {

Dropout::Dropout(double prob) : p(prob) {
  NABLA_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability has to be between 0 and 1, but got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training()); }

std::string Dropout::extra_repr() const { return "p=" + py_repr(p) + ", inplace=False"; }

}  // namespace nabla::nn
