// nn::Module: dotted names, state dict round trip and strict errors, freezing, train/eval,
// num_parameters, zero_grad, tied parameters, printing against torch's repr.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "nabla/nn/nn.h"
#include "nabla/ops/ops.h"
#include "tests/testing/fixture.h"

namespace nabla {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& [n, t] : named) out.push_back(n);
  return out;
}

// A module written the way users write one: parameters, a buffer and nested children.
struct Block : nn::Module {
  Block() {
    ln = register_module("ln", std::make_shared<nn::LayerNorm>(3));
    fc = register_module("fc", std::make_shared<nn::Linear>(3, 2));
    scale = register_parameter("scale", ones({2}));
    register_buffer("steps", zeros({1}));
  }
  Tensor forward(const Tensor& x) override { return fc->forward(ln->forward(x)) * scale; }
  std::shared_ptr<nn::LayerNorm> ln;
  std::shared_ptr<nn::Linear> fc;
  Tensor scale;
};

struct Net : nn::Module {
  Net() {
    embed = register_parameter("embed", randn({4, 3}));
    block = register_module("block", std::make_shared<Block>());
  }
  Tensor embed;
  std::shared_ptr<Block> block;
};

TEST(Module, NamedParametersUseDottedNamesInRegistrationOrder) {
  Net net;
  EXPECT_THAT(names_of(net.named_parameters()),
              ElementsAre("embed", "block.scale", "block.ln.weight", "block.ln.bias",
                          "block.fc.weight", "block.fc.bias"));
  EXPECT_THAT(names_of(net.named_parameters(/*recurse=*/false)), ElementsAre("embed"));
  EXPECT_THAT(names_of(net.named_buffers()), ElementsAre("block.steps"));
  EXPECT_EQ(net.parameters().size(), 6u);
  EXPECT_TRUE(net.parameters()[0].is_alias_of(net.embed));
  std::vector<std::string> modules;
  for (const auto& [n, m] : net.named_modules()) modules.push_back(n + ":" + m->name());
  EXPECT_THAT(modules, ElementsAre(":Net", "block:Block", "block.ln:LayerNorm", "block.fc:Linear"));
  EXPECT_EQ(net.named_children().size(), 1u);
  EXPECT_EQ(net.children()[0], net.block);
}

TEST(Module, StateDictHoldsParametersThenBuffersPerModule) {
  Net net;
  EXPECT_THAT(names_of(net.state_dict()),
              ElementsAre("embed", "block.scale", "block.steps", "block.ln.weight",
                          "block.ln.bias", "block.fc.weight", "block.fc.bias"));
  for (const auto& [n, t] : net.state_dict()) EXPECT_FALSE(t.requires_grad()) << n;
}

TEST(Module, StateDictRoundTripCopiesInPlace) {
  manual_seed(1);
  Net a;
  manual_seed(2);
  Net b;
  const Tensor b_fc_weight = b.block->fc->weight;  // the handle an optimizer would hold
  ASSERT_NE(a.block->fc->weight.to_vector(), b_fc_weight.to_vector());
  b.load_state_dict(a.state_dict());
  const auto sa = a.state_dict(), sb = b.state_dict();
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].second.to_vector(), sb[i].second.to_vector()) << sa[i].first;
  }
  EXPECT_TRUE(b_fc_weight.is_alias_of(b.block->fc->weight));
  EXPECT_EQ(b_fc_weight.to_vector(), a.block->fc->weight.to_vector());
  EXPECT_TRUE(b.block->fc->weight.requires_grad());
}

TEST(Module, StrictLoadNamesMissingUnexpectedAndMismatchedKeys) {
  Net net;
  const auto before = net.embed.to_vector();
  nn::StateDict sd = net.state_dict();
  sd.erase(sd.begin() + 1);                     // block.scale missing
  sd.emplace_back("block.extra", zeros({2}));   // unexpected
  sd[0].second = randn({4, 3});                 // a value that must not be copied on error
  EXPECT_THAT([&] { net.load_state_dict(sd); },
              ThrowsMessage<ShapeError>(AllOf(HasSubstr("Error(s) in loading state_dict for Net"),
                                              HasSubstr("Missing key(s) in state_dict: \"block.scale\""),
                                              HasSubstr("Unexpected key(s) in state_dict: \"block.extra\""))));
  EXPECT_EQ(net.embed.to_vector(), before);
  net.load_state_dict(sd, /*strict=*/false);  // missing and unexpected keys are allowed
  EXPECT_EQ(net.embed.to_vector(), sd[0].second.to_vector());

  nn::StateDict bad = net.state_dict();
  bad[4].second = zeros({4});  // block.ln.bias is (3)
  EXPECT_THAT([&] { net.load_state_dict(bad, /*strict=*/false); },
              ThrowsMessage<ShapeError>(HasSubstr(
                  "size mismatch for block.ln.bias: copying a param with shape [4] from "
                  "checkpoint, the shape in current model is [3]")));
}

TEST(Module, NumParametersAndFreezing) {
  EXPECT_EQ(nn::Linear(64, 10).num_parameters(), 650);
  EXPECT_EQ(nn::Linear(64, 10, /*bias=*/false).num_parameters(), 640);
  Net net;
  EXPECT_EQ(net.num_parameters(), 12 + 2 + 6 + 8);
  net.block->ln->requires_grad_(false);
  EXPECT_EQ(net.num_parameters(/*trainable_only=*/true), 12 + 2 + 8);
  EXPECT_EQ(net.num_parameters(), 28);
  net.requires_grad_(false);
  EXPECT_EQ(net.num_parameters(true), 0);
  const Tensor y = net.block->forward(randn({2, 3}));
  EXPECT_FALSE(y.requires_grad());
  net.requires_grad_(true);
  EXPECT_EQ(net.num_parameters(true), 28);
}

TEST(Module, FrozenParametersGetNoGradient) {
  auto seq = nn::Sequential({std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::Linear>(3, 1)});
  seq[0]->requires_grad_(false);
  seq.forward(randn({5, 4})).sum().backward();
  EXPECT_FALSE(seq.at<nn::Linear>(0)->weight.grad().defined());
  EXPECT_TRUE(seq.at<nn::Linear>(1)->weight.grad().defined());
}

TEST(Module, TrainEvalRecurses) {
  auto inner = std::make_shared<nn::Sequential>(
      std::vector<std::shared_ptr<nn::Module>>{std::make_shared<nn::Dropout>(0.5)});
  nn::Sequential outer({std::make_shared<nn::Linear>(2, 2), inner});
  EXPECT_TRUE(outer.is_training());
  outer.eval();
  for (const auto& [n, m] : outer.named_modules()) EXPECT_FALSE(m->is_training()) << n;
  const Tensor x = randn({3, 2});
  EXPECT_EQ(inner->forward(x).to_vector(), x.to_vector());  // dropout off in eval
  outer.train();
  for (const auto& [n, m] : outer.named_modules()) EXPECT_TRUE(m->is_training()) << n;
}

TEST(Module, ZeroGradClearsOrZeroes) {
  nn::Linear fc(3, 2);
  fc.forward(randn({4, 3})).sum().backward();
  ASSERT_TRUE(fc.weight.grad().defined());
  fc.zero_grad(/*set_to_none=*/false);
  EXPECT_EQ(fc.weight.grad().to_vector(), std::vector<double>(6, 0.0));
  fc.zero_grad();
  EXPECT_FALSE(fc.weight.grad().defined());
  EXPECT_FALSE(fc.bias.grad().defined());
}

TEST(Module, SharedParametersAreListedOnce) {
  struct Pair : nn::Module {
    Pair() {
      a = register_module("a", std::make_shared<nn::Linear>(2, 2));
      b = register_module("b", a);
    }
    std::shared_ptr<nn::Linear> a, b;
  };
  Pair p;
  EXPECT_THAT(names_of(p.named_parameters()), ElementsAre("a.weight", "a.bias"));
  EXPECT_EQ(p.num_parameters(), 6);
  EXPECT_EQ(p.state_dict().size(), 4u);  // like torch, the state dict keeps both names
}

TEST(Module, ReplaceModuleKeepsTheNameAndOrder) {
  Net net;
  auto fc = net.block->replace_module("ln", std::make_shared<nn::Linear>(3, 5, false));
  EXPECT_THAT(names_of(net.named_parameters()),
              ElementsAre("embed", "block.scale", "block.ln.weight", "block.fc.weight",
                          "block.fc.bias"));
  EXPECT_TRUE(net.named_parameters()[2].second.is_alias_of(fc->weight));
  EXPECT_THAT([&] { net.replace_module("nope", std::make_shared<nn::Linear>(1, 1)); },
              ThrowsMessage<Error>(HasSubstr("Net has no submodule 'nope'")));
}

TEST(Module, RegistrationErrors) {
  nn::Linear fc(2, 2);
  EXPECT_THAT([&] { fc.register_parameter("weight", zeros({2})); },
              ThrowsMessage<Error>(HasSubstr("Linear already has an attribute named 'weight'")));
  EXPECT_THAT([&] { fc.register_buffer("a.b", zeros({2})); },
              ThrowsMessage<Error>(HasSubstr("contain no '.'")));
  nn::Module plain;
  EXPECT_THAT([&] { plain.forward(zeros({1})); },
              ThrowsMessage<Error>(HasSubstr("forward(Tensor) is not implemented for Module")));
}

TEST(Module, PrintsLikeTorch) {
  const auto fx = testing::load_fixture("nn_module_reprs");
  nn::Sequential net({std::make_shared<nn::Embedding>(100, 16, 0), std::make_shared<nn::LayerNorm>(16),
                      std::make_shared<nn::Dropout>(0.1), std::make_shared<nn::Linear>(16, 32, false),
                      std::make_shared<nn::GELU>("tanh"),
                      std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
                          std::make_shared<nn::Linear>(32, 8), std::make_shared<nn::SiLU>(),
                          std::make_shared<nn::Tanh>()}),
                      std::make_shared<nn::Softmax>(-1)});
  std::ostringstream os;
  os << net;
  EXPECT_EQ(os.str(), fx.meta["sequential"].get<std::string>());
  os.str("");
  os << nn::LayerNorm(7, 1e-6, false);
  EXPECT_EQ(os.str(), fx.meta["layer_norm_eps"].get<std::string>());
  os.str("");
  os << nn::CrossEntropyLoss();
  EXPECT_EQ(os.str(), fx.meta["loss"].get<std::string>());
}

}  // namespace
}  // namespace nabla
