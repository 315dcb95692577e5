// nn::Linear with a packed weight: the f32 parameter leaves the module, forward keeps its
// result, pack_linear_weights packs a whole model, and a LoRA adapter trains over a packed base.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "nabla/lora/lora.h"
#include "nabla/models/llama.h"
#include "nabla/nn/nn.h"
#include "nabla/ops/ops.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

TEST(LinearPack, WeightLeavesTheParametersAndForwardUsesThePackedCopy) {
  manual_seed(0);
  nn::Linear lin(40, 6);
  const Tensor x = randn({3, 40});
  const Tensor want = linear(x, PackedWeight::pack(lin.weight, WeightFormat::Q8).unpack(), lin.bias);
  lin.pack_weight(WeightFormat::Q8);
  EXPECT_FALSE(lin.weight.defined());
  ASSERT_NE(lin.packed_weight(), nullptr);
  const auto params = lin.named_parameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].first, "bias");
  ASSERT_EQ(lin.state_dict().size(), 1u);
  EXPECT_EQ(lin.state_dict()[0].first, "bias");
  EXPECT_TRUE(equal(lin.forward(x), want));
  std::ostringstream os;
  os << lin;
  EXPECT_THAT(os.str(), HasSubstr("bias=True, weight=int8"));
  EXPECT_THAT([&] { lin.pack_weight(WeightFormat::BF16); },
              ThrowsMessage<Error>(HasSubstr("already packed (int8)")));
  nn::Linear other(4, 4);
  EXPECT_THAT([&] { other.pack_weight(WeightFormat::F32); },
              ThrowsMessage<Error>(HasSubstr("f32 is the unpacked format")));
}

TEST(LinearPack, PacksEveryLinearOfAModel) {
  manual_seed(1);
  models::Llama model({.dim = 32, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                       .vocab_size = 50, .hidden_dim = 64, .max_seq_len = 16});
  model.eval();
  const Tensor tokens = tensor({{1, 7, 9, 3}});
  const Tensor f32 = model.forward(tokens);
  // 7 per layer (wq, wk, wv, wo, w1, w2, w3) and the output head.
  EXPECT_EQ(nn::pack_linear_weights(model, WeightFormat::BF16), 2 * 7 + 1);
  EXPECT_EQ(nn::pack_linear_weights(model, WeightFormat::BF16), 0);  // nothing left to pack
  const Tensor bf16 = model.forward(tokens);
  EXPECT_TRUE(allclose(bf16, f32, 0.0, 0.05)) << (bf16 - f32).abs().max().item();
}

TEST(LinearPack, LoraTrainsOverAPackedFrozenBase) {
  manual_seed(2);
  auto seq = std::make_shared<nn::Module>();
  auto lin = seq->register_module("proj", std::make_shared<nn::Linear>(16, 8));
  lin->pack_weight(WeightFormat::Q8);
  lora::apply_lora(*seq, {.r = 2, .alpha = 4, .target_modules = std::string("proj")});
  nn::init::normal_(std::dynamic_pointer_cast<lora::LoraLinear>(lin->adapter())->lora_B->weight,
                    0.0, 0.1);
  const Tensor x = randn({5, 16});
  lin->forward(x).pow(2.0).sum().backward();
  const auto adapter = std::dynamic_pointer_cast<lora::LoraLinear>(lin->adapter());
  ASSERT_TRUE(adapter->lora_A->weight.grad().defined());
  EXPECT_GT(adapter->lora_A->weight.grad().abs().sum().item(), 0.0);
  EXPECT_FALSE(lin->bias.grad().defined());  // frozen
  EXPECT_THAT([&] { adapter->merge(*lin); },
              ThrowsMessage<Error>(HasSubstr("the Linear's weight is packed (int8)")));
}

}  // namespace
}  // namespace nabla
