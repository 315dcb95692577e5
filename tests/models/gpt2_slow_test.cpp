// GPT-2 124M built for real (500 MB of f32 weights): its parameter count, a forward pass, and a
// save_pretrained / llm.c round trip at full size.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/models/gpt2.h"
#include "nabla/ops/ops.h"
#include "tests/io/io_test_util.h"

namespace nabla::models {
namespace {

TEST(Gpt2Slow, Gpt2PresetBuildsWith124439808Parameters) {
  manual_seed(0);
  Gpt2 model(Gpt2Config::preset("gpt2"));
  EXPECT_EQ(model.num_parameters(), 124'439'808);  // issue 3; HF's GPT2LMHeadModel
  model.eval();
  NoGradGuard no_grad;
  const Tensor tokens = arange(0, 16).reshape({2, 8}) * 997;  // ids below 50257
  const Tensor logits = model.forward(tokens);
  EXPECT_EQ(logits.shape(), Shape({2, 8, 50257}));
  EXPECT_TRUE(std::isfinite(logits.abs().max().item()));

  io::testing::TempDir dir;
  model.save_llmc(dir.file("gpt2_124M.bin"));
  auto back = Gpt2::from_llmc(dir.file("gpt2_124M.bin"));
  EXPECT_TRUE(equal(back->forward(tokens), logits));
}

}  // namespace
}  // namespace nabla::models
