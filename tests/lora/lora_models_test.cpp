// LoRA on nabla's real models: llama2.c's stories260K with `wq,wv` (the recipe: 10
// adapters, 8,960 trainable parameters) and a small GPT-2 with `c_attn`. Outputs unchanged
// before training, one step trains only the adapters, merged equals unmerged (with the KV cache
// too), and an adapter saved from one model reloads onto a fresh copy of the base.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/rng.h"
#include "nabla/lora/adapter_io.h"
#include "nabla/lora/lora.h"
#include "nabla/models/gpt2.h"
#include "nabla/models/llama.h"
#include "nabla/ops/ops.h"
#include "nabla/optim/optim.h"
#include "tests/io/io_test_util.h"
#include "tests/testing/fixture.h"

namespace nabla::lora {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

/// Every parameter by name, cloned.
nn::StateDict snapshot(const nn::Module& m) {
  nn::StateDict out;
  for (const auto& [n, t] : m.state_dict()) out.emplace_back(n, t.clone());
  return out;
}

/// One Adam step of next-token cross-entropy on tokens (B, T + 1); returns the loss.
double train_step(models::CausalLM& model, optim::Optimizer& opt, const Tensor& tokens) {
  const int64_t T = tokens.size(1) - 1;
  const Tensor logits = model.forward(tokens.slice(1, 0, T));  // (B, T, V)
  const Tensor loss = cross_entropy(
      logits.reshape({-1, model.vocab_size()}), tokens.slice(1, 1, T + 1).reshape({-1}));
  opt.zero_grad();
  loss.backward();
  opt.step();
  return loss.item();
}

/// Checks the base parameters (no "lora_" in the name) of model against before, bitwise.
void expect_base_unchanged(const nn::Module& model, const nn::StateDict& before) {
  const nn::StateDict now = model.state_dict();
  size_t i = 0;
  for (const auto& [n, t] : before) {
    while (i < now.size() && now[i].first != n) ++i;
    ASSERT_LT(i, now.size()) << n;
    EXPECT_TRUE(testing::all_close(now[i].second, t, 0, 0)) << n;
  }
}

TEST(LoraModels, Stories260KWqWv) {
  NABLA_REQUIRE_SHARED_DATA(path, "stories260K.bin");
  manual_seed(0);
  auto model = models::Llama::from_llama2c(path);
  const models::LlamaConfig& c = model->config();
  const Tensor tokens = randint(0, c.vocab_size, {1, 9});
  const Tensor prompt = tokens.slice(1, 0, 8);
  model->eval();
  const Tensor base_logits = model->forward(prompt);
  const nn::StateDict base = snapshot(*model);

  const LoraConfig config{.r = 8, .alpha = 16, .target_modules = "wq,wv"};
  const auto adapted = apply_lora(*model, config);
  EXPECT_EQ(adapted.size(), 10U);
  EXPECT_EQ(adapted.front(), "layers.0.attention.wq");
  // wq (dim -> dim) and wv (dim -> kv_heads * head_dim): r * (in + out) each, per layer.
  const int64_t kv_dim = c.kv_heads() * c.head_dim();
  const int64_t want = c.n_layers * (config.r * (c.dim + c.dim) + config.r * (c.dim + kv_dim));
  EXPECT_EQ(want, 8960);  // the number for stories260K
  EXPECT_EQ(trainable_parameters(*model).trainable, want);
  EXPECT_TRUE(testing::all_close(model->forward(prompt), base_logits, 0, 0));

  model->train();
  optim::AdamW opt(lora_parameters(*model), {.lr = 3e-3});
  train_step(*model, opt, tokens);
  EXPECT_THAT(untrained_adapters(*model), IsEmpty());
  expect_base_unchanged(*model, base);
  for (const auto& [n, p] : model->named_parameters()) {
    if (!p.requires_grad()) {
      EXPECT_FALSE(p.grad().defined()) << n;
    }
  }

  // Merged and unmerged agree, through a prefill and a cached decode step as generation runs.
  model->eval();
  const Tensor unmerged = model->forward(prompt);
  EXPECT_FALSE(testing::all_close(unmerged, base_logits, 0, 1e-6));  // the step changed them
  merge(*model);
  EXPECT_TRUE(testing::all_close(model->forward(prompt), unmerged, 1e-5, 1e-5));
  models::KVCache cache = model->make_cache(1, 8);
  model->forward(prompt.slice(1, 0, 7), 0, &cache);
  const Tensor last = model->forward(prompt.slice(1, 7, 8), 7, &cache);
  EXPECT_TRUE(testing::all_close(last, unmerged.slice(1, 7, 8), 1e-5, 1e-5));
  unmerge(*model);

  // The adapter reloads onto a fresh base with the same outputs.
  io::testing::TempDir tmp;
  save_adapter(*model, tmp.file("adapter"), config);
  auto fresh = models::Llama::from_llama2c(path);
  load_adapter(*fresh, tmp.file("adapter"));
  fresh->eval();
  EXPECT_TRUE(testing::all_close(fresh->forward(prompt), unmerged, 0, 0));
}

TEST(LoraModels, Gpt2CAttn) {
  manual_seed(1);
  models::Gpt2 model(models::Gpt2Config::preset("gpt2-tiny"));
  const models::Gpt2Config& c = model.config();
  const Tensor tokens = randint(0, c.vocab_size, {2, 9});
  model.eval();
  const Tensor base_logits = model.forward(tokens.slice(1, 0, 8));
  const nn::StateDict base = snapshot(model);

  const LoraConfig config{.r = 4, .alpha = 8, .target_modules = "c_attn"};
  const auto adapted = apply_lora(model, config);
  ASSERT_EQ(static_cast<int64_t>(adapted.size()), c.n_layer);
  EXPECT_THAT(adapted, ElementsAre("h.0.attn.c_attn", "h.1.attn.c_attn"));
  // c_attn: n_embd -> 3 * n_embd.
  EXPECT_EQ(
      trainable_parameters(model).trainable, c.n_layer * config.r * (c.n_embd + 3 * c.n_embd));
  EXPECT_TRUE(testing::all_close(model.forward(tokens.slice(1, 0, 8)), base_logits, 0, 0));

  model.train();
  optim::AdamW opt(lora_parameters(model), {.lr = 1e-2});
  const double first = train_step(model, opt, tokens);
  double last = first;
  for (int i = 0; i < 4; ++i) last = train_step(model, opt, tokens);
  EXPECT_LT(last, first);  // five steps on one batch must fit it better
  EXPECT_THAT(untrained_adapters(model), IsEmpty());
  expect_base_unchanged(model, base);

  model.eval();
  const Tensor unmerged = model.forward(tokens.slice(1, 0, 8));
  merge(model);
  EXPECT_TRUE(testing::all_close(model.forward(tokens.slice(1, 0, 8)), unmerged, 1e-5, 1e-5));
  unmerge(model);

  // all-linear leaves the tied head alone and takes the four Linears of every block.
  models::Gpt2 all(models::Gpt2Config::preset("gpt2-tiny"));
  EXPECT_EQ(
      static_cast<int64_t>(apply_lora(all, {.r = 2, .target_modules = "all-linear"}).size()),
      4 * c.n_layer);
}

}  // namespace
}  // namespace nabla::lora
