// CausalLM::pack_weights: every Linear and a tied head are packed; logits move by the weights'
// rounding only; decoding with the cache still equals recomputing the sequence.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/autograd/grad_mode.h"
#include "nabla/models/gpt2.h"
#include "nabla/models/llama.h"
#include "nabla/ops/ops.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

double max_abs_diff(const Tensor& a, const Tensor& b) { return (a - b).abs().max().item(); }

TEST(PackWeights, TiedLlamaHeadIsPackedAndLogitsStayClose) {
  manual_seed(3);
  models::Llama model({.dim = 64, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                       .vocab_size = 90, .hidden_dim = 96, .max_seq_len = 16,
                       .tie_embeddings = true});
  model.eval();
  NoGradGuard no_grad;
  const Tensor tokens = tensor({{1, 7, 9, 3, 44}});
  const Tensor f32 = model.forward(tokens);
  model.pack_weights(WeightFormat::Q8);
  const Tensor q8 = model.forward(tokens);
  EXPECT_GT(max_abs_diff(q8, f32), 0.0);  // the head (and the rest) really changed
  EXPECT_LT(max_abs_diff(q8, f32), 0.02 * f32.abs().max().item());
  // The embedding lookup still uses the f32 rows.
  EXPECT_TRUE(model.tok_embeddings->weight.defined());
  // Decoding one token at a time over the cache gives the full forward's logits.
  models::KVCache cache = model.make_cache(1, 16);
  for (int64_t t = 0; t < 5; ++t) {
    const Tensor step = model.forward(tokens.narrow(1, t, 1), t, &cache);
    EXPECT_LT(max_abs_diff(step.select(1, 0), q8.select(1, t)), 1e-4) << t;
  }
  EXPECT_THAT([&] { model.pack_weights(WeightFormat::BF16); },
              ThrowsMessage<Error>(HasSubstr("no f32 Linear weight left to pack")));
}

TEST(PackWeights, Gpt2WithTiedHeadInBf16) {
  manual_seed(4);
  models::Gpt2 model(models::Gpt2Config::preset("gpt2-tiny"));
  model.eval();
  NoGradGuard no_grad;
  const Tensor tokens = tensor({{5, 6, 7, 8}, {9, 10, 11, 12}});
  const Tensor f32 = model.forward(tokens);
  model.pack_weights(WeightFormat::BF16);
  const Tensor bf16 = model.forward(tokens);
  EXPECT_GT(max_abs_diff(bf16, f32), 0.0);
  EXPECT_LT(max_abs_diff(bf16, f32), 0.02 * f32.abs().max().item());
  EXPECT_THAT([&] { model.pack_weights(WeightFormat::F32); },
              ThrowsMessage<Error>(HasSubstr("f32 is the unpacked format")));
}

}  // namespace
}  // namespace nabla
