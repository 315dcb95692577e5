// The recipe, shortened: LoRA (r 8, alpha 16, wq,wv) on stories260K fine-tuned on
// tinyshakespeare text it has not seen, encoded with tok512.bin and split 90/10, 16 random
// windows of 128 tokens per AdamW step at lr 3e-3. Checks that the validation loss drops, that
// the base stays bitwise unchanged, and that the saved adapter (a few KB) reloads onto a fresh
// base to exactly the same loss. The full 300-step run is in BENCHMARKS.md ("LoRA fine-tuning").
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/rng.h"
#include "nabla/lora/adapter_io.h"
#include "nabla/lora/lora.h"
#include "nabla/models/llama.h"
#include "nabla/ops/ops.h"
#include "nabla/optim/adam.h"
#include "nabla/tokenizers/llama2c_tokenizer.h"
#include "tests/io/io_test_util.h"
#include "tests/testing/fixture.h"

namespace nabla::lora {
namespace {

constexpr int64_t kBatch = 16, kBlock = 128;

// Windows (B, kBlock + 1) of tokens starting at starts (B).
Tensor windows(const Tensor& tokens, const Tensor& starts) {
  const Tensor idx = starts.unsqueeze(1) + arange(0, kBlock + 1, 1, kInt64).unsqueeze(0);
  return tokens.index_select(0, idx.reshape({-1})).reshape({starts.size(0), kBlock + 1});
}

double loss_of(models::Llama& model, const Tensor& w) {
  const Tensor logits = model.forward(w.narrow(1, 0, kBlock).contiguous());  // (B, T, V)
  const Tensor loss =
      cross_entropy(logits.reshape({-1, logits.size(-1)}), w.narrow(1, 1, kBlock).reshape({-1}));
  if (autograd::is_grad_enabled())
    loss.backward();
  return loss.item();
}

// Mean loss over the first kBatch whole windows of val.
double val_loss(models::Llama& model, const Tensor& val) {
  NoGradGuard no_grad;
  model.eval();
  const double l = loss_of(model, windows(val, arange(0, kBatch, 1, kInt64) * kBlock));
  model.train();
  return l;
}

TEST(LoraSlow, Stories260KOnShakespeareLowersValLossAndReloads) {
  NABLA_REQUIRE_SHARED_DATA(model_path, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok_path, "tok512.bin");
  NABLA_REQUIRE_SHARED_DATA(text_path, "tinyshakespeare.txt");
  std::string text(60000, '\0');
  std::ifstream(text_path, std::ios::binary).read(text.data(), 60000);
  const auto ids = tokenizers::Llama2cTokenizer::load(tok_path).encode(text);
  const Tensor all = tensor(std::vector<int32_t>(ids.begin(), ids.end())).to(kInt64);
  const int64_t n_train = all.size(0) * 9 / 10;
  const Tensor train = all.narrow(0, 0, n_train),
               val = all.narrow(0, n_train, all.size(0) - n_train);
  ASSERT_GT(val.size(0), kBatch * kBlock);

  manual_seed(1337);
  auto model = models::Llama::from_llama2c(model_path);
  nn::StateDict base;
  for (const auto& [n, t] : model->state_dict()) base.emplace_back(n, t.clone());
  const LoraConfig config{.r = 8, .alpha = 16, .target_modules = "wq,wv"};
  apply_lora(*model, config);
  EXPECT_EQ(trainable_parameters(*model).trainable, 8960);
  optim::AdamW opt(lora_parameters(*model), {.lr = 3e-3, .weight_decay = 0.0});
  const double before = val_loss(*model, val);
  for (int step = 0; step < 25; ++step) {
    opt.zero_grad();
    loss_of(*model, windows(train, randint(0, n_train - kBlock, {kBatch})));
    opt.step();
  }
  const double after = val_loss(*model, val);
  RecordProperty("val_loss_before", std::to_string(before));
  RecordProperty("val_loss_after", std::to_string(after));
  // Measured 4.39 -> 3.48 (-21%) in these 25 steps (the 300-step recipe in BENCHMARKS.md:
  // -31%); 15% leaves room for other random windows and initial A.
  EXPECT_LT(after, 0.85 * before) << before << " -> " << after;
  std::map<std::string, Tensor> now;
  for (const auto& [n, t] : model->state_dict()) now.emplace(n, t);
  for (const auto& [n, t] : base) {
    ASSERT_TRUE(now.count(n)) << n;
    EXPECT_TRUE(testing::all_close(now.at(n), t, 0, 0)) << n;
  }

  io::testing::TempDir dir;
  const std::string adapter = dir.file("adapter");
  save_adapter(*model, adapter, config);
  EXPECT_LT(std::filesystem::file_size(adapter + "/adapter_model.safetensors"), 40000U);
  auto fresh = models::Llama::from_llama2c(model_path);
  load_adapter(*fresh, adapter);
  EXPECT_EQ(val_loss(*fresh, val), after);
}

}  // namespace
}  // namespace nabla::lora
