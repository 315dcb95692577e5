// The network of Nielsen's "Neural Networks and Deep Learning", chapter 1 (network.py):
// sizes [784, 30, 10], sigmoid, quadratic cost, N(0, 1) initialisation, mini-batch SGD
// w <- w - (eta / len(mini_batch)) * (summed gradient), eta 3.0, mini-batch 10, 30 epochs; here
// on Fashion-MNIST. Prints the test accuracy after each epoch. Twin of
// tools/examples_torch/nielsen_mlp.py.
#include <chrono>
#include <cstdio>
#include <string>

#include "example_util.h"
#include "fashion_data.h"

namespace {

using nabla::Tensor;

class Network : public nabla::nn::Module {
 public:
  explicit Network(const std::vector<int64_t>& sizes) {
    for (size_t i = 0; i + 1 < sizes.size(); ++i) {
      weights.push_back(register_parameter("weights_" + std::to_string(i),
                                           nabla::randn({sizes[i + 1], sizes[i]})));
    }
    for (size_t i = 0; i + 1 < sizes.size(); ++i) {
      biases.push_back(register_parameter("biases_" + std::to_string(i), nabla::randn({sizes[i + 1]})));
    }
  }
  // a (N, 784) -> (N, 10), each layer sigmoid(a W^T + b)
  Tensor forward(const Tensor& x) override {
    Tensor a = x;
    for (size_t i = 0; i < weights.size(); ++i) a = nabla::sigmoid(nabla::linear(a, weights[i], biases[i]));
    return a;
  }
  std::string name() const override { return "Network"; }

  std::vector<Tensor> weights, biases;
};

}  // namespace

int main(int argc, char** argv) {
  return examples::run(argv[0], [&] {
    const examples::Args args(argc, argv, {"epochs", "seed", "threads"});
    using namespace nabla;
    manual_seed(static_cast<uint64_t>(args.get_int("seed", 0)));
    set_num_threads(static_cast<int>(args.get_int("threads", 2)));
    const int64_t epochs = args.get_int("epochs", 30);

    const examples::FashionSplit train = examples::load_fashion(true);
    const examples::FashionSplit test = examples::load_fashion(false);
    const int64_t n = train.x.size(0);
    Tensor onehot = zeros({n, 10});  // (N, 10) targets of the quadratic cost
    for (int64_t i = 0; i < n; ++i) onehot.data<float>()[i * 10 + train.y.data<int64_t>()[i]] = 1.0f;

    auto net = std::make_shared<Network>(std::vector<int64_t>{784, 30, 10});
    const double eta = 3.0;
    const int64_t mini_batch_size = 10;
    // Summed per-sample gradients scaled by eta / m == lr eta on the batch mean of the cost
    // 0.5 * ||a - y||^2 (optim/sgd.h).
    optim::SGD opt(net->parameters(), {.lr = eta});
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      Tensor perm = randperm(n);
      for (int64_t k = 0; k < n; k += mini_batch_size) {
        Tensor idx = perm.slice(0, k, k + mini_batch_size);
        Tensor a = (*net)(train.x.index_select(0, idx));
        Tensor loss = 0.5 * (a - onehot.index_select(0, idx)).pow(2).sum() / static_cast<double>(idx.size(0));
        opt.zero_grad();
        loss.backward();
        opt.step();
      }
      int64_t correct = 0;
      {
        NoGradGuard no_grad;
        correct = examples::count_correct((*net)(test.x), test.y);
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("Epoch %lld: %lld / %lld (%.4f), %.2f s\n", static_cast<long long>(epoch),
                  static_cast<long long>(correct), static_cast<long long>(test.x.size(0)),
                  static_cast<double>(correct) / static_cast<double>(test.x.size(0)), secs);
      std::fflush(stdout);
    }
  });
}
