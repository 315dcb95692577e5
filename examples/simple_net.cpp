// A small classifier, one training step: Linear(10, 5) -> ReLU -> Linear(5, 1) -> Sigmoid,
// BCELoss, SGD (lr 0.01); prints the loss and each named parameter's gradient. Twin of
// tools/examples_torch/simple_net.py. --fixed uses closed-form weights and inputs instead of
// random ones, so both print the same numbers (tests/examples/examples_test.cpp).
#include <cmath>
#include <cstdio>
#include <iostream>

#include "example_util.h"
#include "nabla/nabla.h"

namespace {

// 0.3 * sin(1.7 * i + phase) at flat index i, as simple_net.py's fixed_().
void fixed_(const nabla::Tensor& t, double phase) {
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    p[i] = static_cast<float>(0.3 * std::sin(1.7 * static_cast<double>(i) + phase));
  }
}

}  // namespace

int main(int argc, char** argv) {
  return examples::run(argv[0], [&] {
    const examples::Args args(argc, argv, {"seed"}, {"fixed"});
    using namespace nabla;
    manual_seed(static_cast<uint64_t>(args.get_int("seed", 0)));

    auto model = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(10, 5), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(5, 1), std::make_shared<nn::Sigmoid>()});
    nn::BCELoss criterion;
    optim::SGD optimizer(model->parameters(), {.lr = 0.01});

    Tensor x = randn({4, 10});
    Tensor y = tensor({{1.0}, {0.0}, {1.0}, {0.0}});
    if (args.has("fixed")) {
      double phase = 0;
      for (const Tensor& p : model->parameters()) fixed_(p, phase++);
      fixed_(x, 10.0);
      x.mul_(10.0);
    }

    optimizer.zero_grad();
    Tensor output = (*model)(x);
    Tensor loss = criterion(output, y);
    loss.backward();
    optimizer.step();

    std::printf("loss: %.4f\n", loss.item());
    for (const auto& [name, param] : model->named_parameters()) {
      std::cout << name << " " << param.grad() << "\n";
    }
  });
}
