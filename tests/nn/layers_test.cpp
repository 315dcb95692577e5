// nn layers, init and loss modules: PyTorch's default init, forwards against the functional
// ops or naive references, and the "Linear + losses" fixtures (outputs, losses and every
// parameter gradient against torch).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nn/nn.h"
#include "nabla/ops/ops.h"
#include "tests/testing/fixture.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector()) m = std::max(m, std::abs(v));
  return m;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double std_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

TEST(Linear, DefaultInitMatchesPyTorchBounds) {
  manual_seed(3);
  nn::Linear fc(256, 64);
  EXPECT_EQ(fc.weight.shape(), (Shape{64, 256}));
  EXPECT_EQ(fc.bias.shape(), (Shape{64}));
  const double bound = 1.0 / std::sqrt(256.0);  // kaiming_uniform_(a=sqrt(5)) on fan_in 256
  EXPECT_LE(max_abs(fc.weight), bound);
  EXPECT_GT(max_abs(fc.weight), 0.98 * bound);  // 16384 uniform draws reach the edge
  // U(-b, b) has std b / sqrt(3)
  EXPECT_NEAR(std_of(fc.weight.to_vector()), bound / std::sqrt(3.0), 0.02 * bound);
  EXPECT_LE(max_abs(fc.bias), bound);
  EXPECT_TRUE(fc.weight.requires_grad() && fc.weight.is_leaf());
  manual_seed(3);
  EXPECT_EQ(nn::Linear(256, 64).weight.to_vector(), fc.weight.to_vector());  // seeded
}

TEST(Linear, FromTensorsHoldsThemAsParameters) {
  const Tensor w = randn({3, 5}), b = randn({3});
  nn::Linear fc(w, b);
  EXPECT_EQ(fc.in_features, 5);
  EXPECT_EQ(fc.out_features, 3);
  EXPECT_TRUE(fc.weight.is_alias_of(w));
  EXPECT_EQ(fc.parameters().size(), 2u);
  EXPECT_EQ(nn::Linear(w).parameters().size(), 1u);
  EXPECT_THAT([&] { nn::Linear bad(w, randn({4})); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("does not match weight")));
}

TEST(Linear, ForwardIsXWTransposePlusB) {
  nn::Linear fc(5, 3);
  const Tensor x = randn({2, 4, 5});
  const Tensor y = fc(x);
  ASSERT_EQ(y.shape(), (Shape{2, 4, 3}));
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      for (int64_t o = 0; o < 3; ++o) {
        double ref = fc.bias.at({o});
        for (int64_t k = 0; k < 5; ++k) ref += x.at({i, j, k}) * fc.weight.at({o, k});
        EXPECT_NEAR(y.at({i, j, o}), ref, 1e-5);
      }
    }
  }
  nn::Linear nobias(5, 3, false);
  EXPECT_FALSE(nobias.bias.defined());
  EXPECT_EQ(nobias(x).shape(), (Shape{2, 4, 3}));
}

TEST(EmbeddingModule, InitAndPaddingRow) {
  manual_seed(4);
  nn::Embedding emb(200, 32, -1);
  EXPECT_EQ(*emb.padding_idx, 199);
  const auto w = emb.weight.narrow(0, 0, 199).to_vector();
  EXPECT_NEAR(mean_of(w), 0.0, 0.05);  // N(0, 1): 6368 draws, std of the mean 0.0125
  EXPECT_NEAR(std_of(w), 1.0, 0.05);
  EXPECT_EQ(emb.weight.select(0, 199).to_vector(), std::vector<double>(32, 0.0));
  const Tensor y = emb(tensor(NestedList{{3, 199}}));
  EXPECT_EQ(y.shape(), (Shape{1, 2, 32}));
  y.sum().backward();
  EXPECT_EQ(emb.weight.grad().select(0, 199).to_vector(), std::vector<double>(32, 0.0));
  EXPECT_EQ(emb.weight.grad().select(0, 3).to_vector(), std::vector<double>(32, 1.0));
  EXPECT_THROW(nn::Embedding(5, 2, 5), ShapeError);
}

TEST(Norms, ParametersAndForward) {
  nn::LayerNorm ln(6);
  EXPECT_EQ(ln.weight.to_vector(), std::vector<double>(6, 1.0));
  EXPECT_EQ(ln.bias.to_vector(), std::vector<double>(6, 0.0));
  const Tensor x = randn({3, 6});
  EXPECT_EQ(ln(x).to_vector(), layer_norm(x, ln.weight, ln.bias, 1e-5).to_vector());
  EXPECT_EQ(nn::LayerNorm(6, 1e-5, true, false).num_parameters(), 6);
  EXPECT_EQ(nn::LayerNorm(6, 1e-5, false).num_parameters(), 0);
  nn::RMSNorm rms(6, 1e-6);
  EXPECT_EQ(rms(x).to_vector(), rms_norm(x, rms.weight, 1e-6).to_vector());
  nn::RMSNorm rms_default(6);  // eps = torch.finfo(float32).eps
  EXPECT_EQ(rms_default(x).to_vector(), rms_norm(x, rms_default.weight, 1.1920928955078125e-07).to_vector());
}

TEST(DropoutModule, FollowsTrainingFlag) {
  nn::Dropout drop(0.5);
  const Tensor x = ones({1000});
  const auto y = drop(x).to_vector();
  EXPECT_GT(std::count(y.begin(), y.end(), 0.0), 400);
  EXPECT_EQ(std::count(y.begin(), y.end(), 2.0) + std::count(y.begin(), y.end(), 0.0), 1000);
  drop.eval();
  EXPECT_EQ(drop(x).to_vector(), x.to_vector());
  EXPECT_THROW(nn::Dropout(1.2), Error);
}

TEST(Activations, ForwardThroughOps) {
  const Tensor x = randn({4, 5});
  EXPECT_EQ(nn::ReLU()(x).to_vector(), x.relu().to_vector());
  EXPECT_EQ(nn::Sigmoid()(x).to_vector(), x.sigmoid().to_vector());
  EXPECT_EQ(nn::Tanh()(x).to_vector(), x.tanh().to_vector());
  EXPECT_EQ(nn::SiLU()(x).to_vector(), x.silu().to_vector());
  EXPECT_EQ(nn::GELU()(x).to_vector(), x.gelu("none").to_vector());
  EXPECT_EQ(nn::GELU("tanh")(x).to_vector(), x.gelu("tanh").to_vector());
  EXPECT_EQ(nn::Softmax(0)(x).to_vector(), x.softmax(0).to_vector());
  EXPECT_THROW(nn::GELU("fast"), Error);
}

TEST(Sequential, ChainsAndIndexes) {
  nn::Sequential seq({std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::ReLU>()});
  seq.push_back(std::make_shared<nn::Linear>(4, 2));
  EXPECT_EQ(seq.size(), 3u);
  const Tensor x = randn({5, 3});
  const auto l0 = seq.at<nn::Linear>(0), l2 = seq.at<nn::Linear>(2);
  EXPECT_EQ(seq(x).to_vector(), (*l2)((*l0)(x).relu()).to_vector());
  EXPECT_THROW(seq.at<nn::Linear>(1), Error);
  EXPECT_THROW(seq[3], ShapeError);
  EXPECT_EQ(nn::Sequential()(x).to_vector(), x.to_vector());
}

TEST(Init, FansGainsAndBounds) {
  const Tensor w = empty({6, 4, 3});
  EXPECT_EQ(nn::init::calculate_fan_in_and_fan_out(w), (std::pair<int64_t, int64_t>{12, 18}));
  EXPECT_THAT([] { nn::init::calculate_fan_in_and_fan_out(empty({5})); },
              ThrowsMessage<ShapeError>(HasSubstr("fewer than 2 dimensions")));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  const Tensor big = empty({400, 300});
  nn::init::kaiming_uniform_(big, 0.0, "fan_in", "relu");  // bound sqrt(6 / 300)
  EXPECT_LE(max_abs(big), std::sqrt(6.0 / 300));
  EXPECT_GT(max_abs(big), 0.99 * std::sqrt(6.0 / 300));
  nn::init::kaiming_normal_(big, 0.0, "fan_out", "relu");  // std sqrt(2 / 400)
  EXPECT_NEAR(std_of(big.to_vector()), std::sqrt(2.0 / 400), 0.01 * std::sqrt(2.0 / 400));
  nn::init::xavier_uniform_(big);  // bound sqrt(6 / 700)
  EXPECT_LE(max_abs(big), std::sqrt(6.0 / 700));
  nn::init::xavier_normal_(big, 2.0);  // std 2 sqrt(2 / 700)
  EXPECT_NEAR(std_of(big.to_vector()), 2 * std::sqrt(2.0 / 700), 0.02 * std::sqrt(2.0 / 700));
  EXPECT_THROW(nn::init::kaiming_uniform_(big, 0.0, "fan_avg"), Error);
  nn::init::constant_(big, 0.25);
  EXPECT_EQ(max_abs(big), 0.25);
}

TEST(Init, TruncNormalStaysInBoundsWithTruncatedMoments) {
  const Tensor t = empty({200000}, kFloat64);
  nn::init::trunc_normal_(t, 0.0, 1.0, -1.0, 1.0);
  const auto v = t.to_vector();
  EXPECT_LE(max_abs(t), 1.0);
  // N(0,1) truncated to [-1, 1]: variance 1 - 2 phi(1) / (Phi(1) - Phi(-1)) = 0.29112
  EXPECT_NEAR(mean_of(v), 0.0, 0.01);
  EXPECT_NEAR(std_of(v), std::sqrt(0.2911185), 0.005);
  const Tensor p = nn::Linear(2, 2).weight;
  nn::init::trunc_normal_(p, 0.0, 0.02, -0.04, 0.04);  // on a parameter: no graph, no error
  EXPECT_LE(max_abs(p), 0.04);
  EXPECT_TRUE(p.is_leaf());
}

// Copies the fixture's state dict into net and checks output, loss and every gradient.
void check_net_against_torch(nn::Module& net, nn::Loss& loss_fn, const std::string& fixture,
                             const std::string& target) {
  const auto fx = testing::load_fixture(fixture);
  nn::StateDict sd;
  for (const auto& [name, p] : net.named_parameters()) sd.emplace_back(name, fx[name]);
  net.load_state_dict(sd);
  const Tensor out = net(fx["x"]);
  EXPECT_TRUE(testing::all_close(out, fx["out"], 1e-5, 1e-6)) << fixture;
  const Tensor loss = loss_fn(out, fx[target]);
  EXPECT_TRUE(testing::all_close(loss, fx["loss"], 1e-5, 1e-6)) << fixture;
  loss.backward();
  for (const auto& [name, p] : net.named_parameters()) {
    EXPECT_TRUE(testing::all_close(p.grad(), fx["grad." + name], 1e-4, 1e-6)) << fixture << " " << name;
  }
}

TEST(LinearLosses, MatchPyTorchBce) {
  nn::Sequential net({std::make_shared<nn::Linear>(10, 5), std::make_shared<nn::ReLU>(),
                      std::make_shared<nn::Linear>(5, 1), std::make_shared<nn::Sigmoid>()});
  nn::BCELoss bce;
  check_net_against_torch(net, bce, "nn_linear_bce", "y");
  std::ostringstream os;
  os << net;
  EXPECT_EQ(os.str(), testing::load_fixture("nn_linear_bce").meta["repr"].get<std::string>());
}

TEST(LinearLosses, MatchPyTorchCrossEntropyWithIgnoreIndexAndSmoothing) {
  nn::Sequential net({std::make_shared<nn::Linear>(10, 5), std::make_shared<nn::ReLU>(),
                      std::make_shared<nn::Linear>(5, 4)});
  nn::CrossEntropyLoss ce({.ignore_index = -1, .label_smoothing = 0.1});
  check_net_against_torch(net, ce, "nn_linear_cross_entropy", "t");
}

TEST(LinearLosses, MatchPyTorchMse) {
  nn::Linear net(10, 3);
  nn::MSELoss mse;
  check_net_against_torch(net, mse, "nn_linear_mse", "y");
}

TEST(LossModules, ForwardToFunctional) {
  const Tensor x = randn({4, 3}), t = rand({4, 3}), p = rand({4, 3});
  EXPECT_EQ(nn::MSELoss(Reduction::Sum)(x, t).item(), mse_loss(x, t, Reduction::Sum).item());
  EXPECT_EQ(nn::BCELoss()(p, t).item(), binary_cross_entropy(p, t).item());
  EXPECT_EQ(nn::BCEWithLogitsLoss(Reduction::None)(x, t).to_vector(),
            binary_cross_entropy_with_logits(x, t, Reduction::None).to_vector());
  const Tensor c = tensor({0, 2, 1, -100});
  EXPECT_EQ(nn::CrossEntropyLoss()(x, c).item(), cross_entropy(x, c).item());
  EXPECT_EQ(nn::NLLLoss({.reduction = Reduction::Sum, .ignore_index = 1})(x, c.clamp(0, 2)).item(),
            nll_loss(x, c.clamp(0, 2), Reduction::Sum, 1).item());
  EXPECT_THROW(nn::CrossEntropyLoss({.label_smoothing = 2.0}), Error);
}

}  // namespace
}  // namespace nabla
