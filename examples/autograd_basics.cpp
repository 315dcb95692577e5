// Autograd on one sample of logistic regression: z = x w + b, a = sigmoid(z), BCE loss, then
// loss.backward() and the gradients of w and b. Twin of tools/examples_torch/autograd_basics.py
// (Raschka, "PyTorch in One Hour", appendix A); prints tensor([-0.0898]) and tensor([-0.0817]).
#include <iostream>

#include "example_util.h"
#include "nabla/nabla.h"

int main(int argc, char** argv) {
  return examples::run(argv[0], [&] {
    examples::Args(argc, argv, {});
    using namespace nabla;
    Tensor y = tensor({1.0});
    Tensor x1 = tensor({1.1});
    Tensor w1 = tensor({2.2}, TensorOptions().requires_grad());
    Tensor b = tensor({0.0}, TensorOptions().requires_grad());

    Tensor z = x1 * w1 + b;
    Tensor a = sigmoid(z);
    Tensor loss = binary_cross_entropy(a, y);

    loss.backward();
    std::cout << w1.grad() << "\n";
    std::cout << b.grad() << "\n";
  });
}
