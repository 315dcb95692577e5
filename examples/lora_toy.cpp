// LoRA (Hu et al. 2021) on a toy layer: a frozen Linear(64, 10) plus a trainable low-rank
// update alpha * x A B with A (64, 4) ~ N(0, 1/rank), B (4, 10) = 0, alpha 1.0; 296 trainable
// of 946 parameters. Adam (lr 0.01) on MSE over 1000 random samples, batches of 100, 10 epochs.
// Twin of tools/examples_torch/lora_toy.py (the LoRALayer of Raschka's LoRA-from-scratch).
#include <cmath>
#include <cstdio>
#include <memory>

#include "example_util.h"
#include "nabla/nabla.h"

namespace {

using nabla::Tensor;

class LoRALayer : public nabla::nn::Module {
 public:
  LoRALayer(int64_t in_dim, int64_t out_dim, int64_t rank, double alpha_) : alpha(alpha_) {
    const double std_dev = 1.0 / std::sqrt(static_cast<double>(rank));
    A = register_parameter("A", nabla::randn({in_dim, rank}) * std_dev);
    B = register_parameter("B", nabla::zeros({rank, out_dim}));
  }
  // x (N, in) -> (N, out)
  Tensor forward(const Tensor& x) override { return alpha * x.matmul(A).matmul(B); }
  std::string name() const override { return "LoRALayer"; }

  Tensor A;  // (in, rank)
  Tensor B;  // (rank, out)
  double alpha;
};

class LinearWithLoRA : public nabla::nn::Module {
 public:
  LinearWithLoRA(std::shared_ptr<nabla::nn::Linear> base, int64_t rank, double alpha) {
    linear = register_module("linear", std::move(base));
    lora = register_module("lora", std::make_shared<LoRALayer>(linear->in_features,
                                                                linear->out_features, rank, alpha));
  }
  Tensor forward(const Tensor& x) override { return linear->forward(x) + lora->forward(x); }
  std::string name() const override { return "LinearWithLoRA"; }

  std::shared_ptr<nabla::nn::Linear> linear;
  std::shared_ptr<LoRALayer> lora;
};

}  // namespace

int main(int argc, char** argv) {
  return examples::run(argv[0], [&] {
    const examples::Args args(argc, argv, {"seed", "epochs", "threads"});
    using namespace nabla;
    manual_seed(static_cast<uint64_t>(args.get_int("seed", 0)));
    set_num_threads(static_cast<int>(args.get_int("threads", 2)));
    const int64_t epochs = args.get_int("epochs", 10);

    auto model = std::make_shared<LinearWithLoRA>(std::make_shared<nn::Linear>(64, 10), 4, 1.0);
    model->linear->requires_grad_(false);
    std::printf("Trainable parameters: %lld\n", static_cast<long long>(model->num_parameters(true)));
    std::printf("Total parameters: %lld\n", static_cast<long long>(model->num_parameters()));

    Tensor x = randn({1000, 64});
    Tensor y = randn({1000, 10});
    std::vector<Tensor> trainable;
    for (const Tensor& p : model->parameters()) {
      if (p.requires_grad()) trainable.push_back(p);
    }
    optim::Adam optimizer(trainable, {.lr = 0.01});
    nn::MSELoss loss_fn;
    const int64_t batch = 100;
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      double total_loss = 0;
      for (int64_t i = 0; i < x.size(0); i += batch) {
        optimizer.zero_grad();
        Tensor loss = loss_fn((*model)(x.slice(0, i, i + batch)), y.slice(0, i, i + batch));
        loss.backward();
        optimizer.step();
        total_loss += loss.item();
      }
      std::printf("Epoch %lld/%lld, Loss: %.4f\n", static_cast<long long>(epoch + 1),
                  static_cast<long long>(epochs), total_loss / static_cast<double>(x.size(0) / batch));
    }
  });
}
