// A 784-256-128-10 ReLU MLP on Fashion-MNIST: cross-entropy, AdamW (lr 1e-3, weight decay
// 1e-2) with the lr on a cosine from lr to 0 over the epochs (set at each epoch's start),
// batch 128, reshuffled each epoch. Prints the loss, test accuracy and training time of each
// epoch. Twin of tools/examples_torch/fashion_mlp.py; bench/fashion_bench.sh times one epoch.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "example_util.h"
#include "fashion_data.h"

int main(int argc, char** argv) {
  return examples::run(argv[0], [&] {
    const examples::Args args(argc, argv, {"epochs", "seed", "threads", "batch-size", "lr"});
    using namespace nabla;
    manual_seed(static_cast<uint64_t>(args.get_int("seed", 0)));
    set_num_threads(static_cast<int>(args.get_int("threads", 2)));
    const int64_t epochs = args.get_int("epochs", 15);
    const int64_t batch_size = args.get_int("batch-size", 128);
    const double lr = args.get_double("lr", 1e-3);

    const examples::FashionSplit train = examples::load_fashion(true);
    const examples::FashionSplit test = examples::load_fashion(false);
    auto model = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(256, 128), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(128, 10)});
    optim::AdamW opt(model->parameters(), {.lr = lr});
    nn::CrossEntropyLoss loss_fn;
    const int64_t n = train.x.size(0);
    for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
      for (auto& group : opt.param_groups()) {
        group.lr = lr * 0.5 * (1 + std::cos(std::numbers::pi * static_cast<double>(epoch - 1) /
                                            static_cast<double>(epochs)));
      }
      const auto start = std::chrono::steady_clock::now();
      model->train();
      Tensor perm = randperm(n);
      double total = 0;
      for (int64_t k = 0; k < n; k += batch_size) {
        Tensor idx = perm.slice(0, k, k + batch_size);
        Tensor loss = loss_fn((*model)(train.x.index_select(0, idx)), train.y.index_select(0, idx));
        opt.zero_grad();
        loss.backward();
        opt.step();
        total += loss.item() * static_cast<double>(idx.size(0));
      }
      const double train_time =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      model->eval();
      double acc = 0;
      {
        NoGradGuard no_grad;
        acc = static_cast<double>(examples::count_correct((*model)(test.x), test.y)) /
              static_cast<double>(test.x.size(0));
      }
      std::printf("epoch %lld: loss %.4f, test accuracy %.4f, time %.2f s\n",
                  static_cast<long long>(epoch), total / static_cast<double>(n), acc, train_time);
      std::fflush(stdout);
    }
  });
}
