// LoRA against PyTorch (tools/fixtures/lora.py, PEFT's math): a tiny attention block with
// adapters on q and v. Outputs, loss and the gradients of every A and B; then 3 Adam steps from
// PEFT's init (B = 0), after which the base weights must be bitwise what they were.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/lora/lora.h"
#include "nabla/nn/nn.h"
#include "nabla/ops/ops.h"
#include "nabla/optim/optim.h"
#include "tests/testing/fixture.h"

namespace nabla::lora {
namespace {

// The fixture's Block: softmax(q k^T / sqrt(D)) v through o; x (B, T, D_IN) -> (B, T, D_OUT).
struct Block : nn::Module {
  Block(int64_t d_in, int64_t d, int64_t d_out) : d_(d) {
    q = register_module("q", std::make_shared<nn::Linear>(d_in, d));
    k = register_module("k", std::make_shared<nn::Linear>(d_in, d));
    v = register_module("v", std::make_shared<nn::Linear>(d_in, d));
    o = register_module("o", std::make_shared<nn::Linear>(d, d_out));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor att =
        (q->forward(x).matmul(k->forward(x).transpose(-2, -1)) / std::sqrt(static_cast<double>(d_)))
            .softmax(-1);
    return o->forward(att.matmul(v->forward(x)));
  }
  int64_t d_;
  std::shared_ptr<nn::Linear> q, k, v, o;
};

class LoraFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    fx_ = testing::load_fixture("lora_block");
    const Tensor& qw = fx_["q.weight"];
    const Tensor& ow = fx_["o.weight"];
    block_ = std::make_shared<Block>(qw.size(1), qw.size(0), ow.size(0));
    nn::StateDict base;
    for (const char* n : {"q", "k", "v", "o"}) {
      base.emplace_back(std::string(n) + ".weight", fx_[std::string(n) + ".weight"]);
      base.emplace_back(std::string(n) + ".bias", fx_[std::string(n) + ".bias"]);
    }
    block_->load_state_dict(base);
    const auto r = fx_.meta["r"].get<int64_t>();
    const auto alpha = fx_.meta["lora_alpha"].get<double>();
    EXPECT_EQ(
        apply_lora(*block_, {.r = r, .alpha = alpha, .target_modules = {"q", "v"}}),
        (std::vector<std::string>{"q", "v"}));
  }

  /// Sets A to the fixture's initial draw and B to `b_key`'s values (zero when empty).
  void set_adapters(const std::string& b_key) {
    NoGradGuard no_grad;
    for (const auto& [n, a] : lora_adapters(*block_)) {
      a->lora_A->weight.copy_(fx_[n + ".lora_A.init"]);
      if (b_key.empty()) {
        a->lora_B->weight.zero_();
      } else {
        a->lora_B->weight.copy_(fx_[n + ".lora_B." + b_key]);
      }
    }
  }

  Tensor loss() { return mse_loss(block_->forward(fx_["x"]), fx_["target"]); }

  testing::Fixture fx_;
  std::shared_ptr<Block> block_;
};

// f32 end to end on values of order 1 through a softmax: 1e-5 leaves room for summation order.
constexpr double kTol = 1e-5;

TEST_F(LoraFixture, OutputsAndGradientsMatchPeft) {
  set_adapters("trained");
  const Tensor y = block_->forward(fx_["x"]);
  EXPECT_TRUE(testing::all_close(y, fx_["trained.y"], kTol, kTol));
  const Tensor l = mse_loss(y, fx_["target"]);
  EXPECT_TRUE(testing::all_close(l.reshape({1}), fx_["trained.loss"], kTol, kTol));
  l.backward();
  for (const auto& [n, a] : lora_adapters(*block_)) {
    EXPECT_TRUE(testing::all_close(
        a->lora_A->weight.grad(), fx_["trained." + n + ".lora_A.grad"], kTol, kTol))
        << n;
    EXPECT_TRUE(testing::all_close(
        a->lora_B->weight.grad(), fx_["trained." + n + ".lora_B.grad"], kTol, kTol))
        << n;
  }
  // Frozen: no gradient is even computed for the base weights.
  for (const auto& [n, p] : block_->named_parameters()) {
    if (!p.requires_grad()) {
      EXPECT_FALSE(p.grad().defined()) << n;
    }
  }
}

TEST_F(LoraFixture, ThreeAdamStepsMatchPeftAndLeaveTheBaseBitwiseUnchanged) {
  set_adapters("");
  EXPECT_TRUE(testing::all_close(block_->forward(fx_["x"]), fx_["adam.y0"], kTol, kTol));
  optim::Adam opt(lora_parameters(*block_), {.lr = fx_.meta["lr"].get<double>()});
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    const Tensor l = loss();
    EXPECT_TRUE(
        testing::all_close(l.reshape({1}), fx_["adam.loss." + std::to_string(step)], kTol, kTol))
        << "step " << step;
    l.backward();
    opt.step();
  }
  for (const auto& [n, a] : lora_adapters(*block_)) {
    EXPECT_TRUE(testing::all_close(a->lora_A->weight, fx_["adam." + n + ".lora_A"], kTol, kTol))
        << n;
    EXPECT_TRUE(testing::all_close(a->lora_B->weight, fx_["adam." + n + ".lora_B"], kTol, kTol))
        << n;
  }
  EXPECT_TRUE(testing::all_close(block_->forward(fx_["x"]), fx_["adam.y3"], kTol, kTol));
  EXPECT_TRUE(untrained_adapters(*block_).empty());
  int base_tensors = 0;
  for (const auto& [name, t] : block_->state_dict()) {
    if (name.find("lora_") != std::string::npos)
      continue;
    EXPECT_TRUE(testing::all_close(t, fx_[name], 0, 0)) << name;
    ++base_tensors;
  }
  EXPECT_EQ(base_tensors, 8);
}

}  // namespace
}  // namespace nabla::lora
