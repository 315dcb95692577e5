// Activation modules: each forward is one element-wise (or softmax) op.
#include "nabla/nn/activation.h"

namespace nabla::nn {

Tensor ReLU::forward(const Tensor& x) { return x.relu(); }
Tensor Sigmoid::forward(const Tensor& x) { return x.sigmoid(); }
Tensor Tanh::forward(const Tensor& x) { return x.tanh(); }
Tensor SiLU::forward(const Tensor& x) { return x.silu(); }
Tensor Softmax::forward(const Tensor& x) { return x.softmax(dim); }

GELU::GELU(std::string approx) : approximate(std::move(approx)) {
  NABLA_CHECK(approximate == "none" || approximate == "tanh",
              "GELU: approximate must be 'none' or 'tanh', got '", approximate, "'");
}

Tensor GELU::forward(const Tensor& x) { return x.gelu(approximate); }

}  // namespace nabla::nn
