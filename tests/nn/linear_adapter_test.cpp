// nn::Linear's adapter hook: forward adds an active adapter's delta, the adapter's children
// appear under the Linear's name, train/eval reaches the adapter, and misuse is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/nn/nn.h"
#include "nabla/ops/ops.h"
#include "tests/testing/fixture.h"

namespace nabla {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// delta(x) = x P^T with P (out, in) held in a child Linear named "proj".
struct ProjAdapter : nn::LinearAdapter {
  ProjAdapter(int64_t in, int64_t out) {
    proj = register_module("proj", std::make_shared<nn::Linear>(in, out, false));
  }
  Tensor delta(const Tensor& x) override { return proj->forward(x); }
  bool active() const override { return on; }
  std::shared_ptr<nn::Linear> proj;
  bool on = true;
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& [n, t] : named) out.push_back(n);
  return out;
}

TEST(LinearAdapter, ForwardAddsDeltaOnlyWhileActive) {
  manual_seed(1);
  auto fc = std::make_shared<nn::Linear>(5, 3);
  auto adapter = std::make_shared<ProjAdapter>(5, 3);
  const Tensor x = randn({4, 5});
  const Tensor base = fc->forward(x);
  fc->set_adapter(adapter);
  // Reference: the two products computed separately, summed in double.
  const Tensor want =
      base.to(kFloat64) + x.to(kFloat64).matmul(adapter->proj->weight.to(kFloat64).t());
  EXPECT_TRUE(testing::all_close(fc->forward(x), want, 1e-6, 1e-6));
  adapter->on = false;
  EXPECT_TRUE(testing::all_close(fc->forward(x), base, 0, 0));
}

TEST(LinearAdapter, ChildrenAreNamedUnderTheLinear) {
  nn::Sequential seq({std::make_shared<nn::Linear>(4, 2)});
  auto fc = std::dynamic_pointer_cast<nn::Linear>(seq.children()[0]);
  fc->set_adapter(std::make_shared<ProjAdapter>(4, 2));
  EXPECT_THAT(names_of(seq.named_parameters()), ElementsAre("0.weight", "0.bias", "0.proj.weight"));
  EXPECT_THAT(names_of(seq.state_dict()), ElementsAre("0.weight", "0.bias", "0.proj.weight"));
  EXPECT_EQ(fc->adapter()->name(), "ProjAdapter");
}

TEST(LinearAdapter, GradientsReachTheAdapterNotTheFrozenBase) {
  auto fc = std::make_shared<nn::Linear>(3, 2);
  fc->requires_grad_(false);
  auto adapter = std::make_shared<ProjAdapter>(3, 2);
  fc->set_adapter(adapter);
  const Tensor x = randn({5, 3});
  fc->forward(x).sum().backward();
  EXPECT_FALSE(fc->weight.grad().defined());
  // d sum(x P^T) / dP = 1^T x: every row of the gradient is the column sums of x.
  const Tensor want = x.sum({0}).unsqueeze(0).expand({2, 3});
  EXPECT_TRUE(testing::all_close(adapter->proj->weight.grad(), want, 1e-6, 1e-6));
}

TEST(LinearAdapter, TrainAndEvalReachTheAdapter) {
  auto fc = std::make_shared<nn::Linear>(3, 2);
  fc->eval();
  auto adapter = std::make_shared<ProjAdapter>(3, 2);
  fc->set_adapter(adapter);
  EXPECT_FALSE(adapter->is_training());  // takes the Linear's mode when attached
  fc->train();
  EXPECT_TRUE(adapter->is_training());
  fc->eval();
  EXPECT_FALSE(adapter->is_training());
}

TEST(LinearAdapter, SecondAdapterAndNullAreRefused) {
  auto fc = std::make_shared<nn::Linear>(3, 2);
  EXPECT_THAT(
      [&] { fc->set_adapter(nullptr); }, ThrowsMessage<Error>(HasSubstr("adapter is null")));
  fc->set_adapter(std::make_shared<ProjAdapter>(3, 2));
  EXPECT_THAT(
      [&] { fc->set_adapter(std::make_shared<ProjAdapter>(3, 2)); },
      ThrowsMessage<Error>(HasSubstr("already has an adapter (ProjAdapter)")));
  EXPECT_EQ(fc->named_parameters().size(), 3U);
}

}  // namespace
}  // namespace nabla
