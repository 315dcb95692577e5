// Llama: config rules (Meta's hidden size), rotary embeddings against the complex-number
// formula, stories260K (llama2.c's run.c output reproduced greedily, cached decoding equal to
// recomputation) and error paths.
#include "nabla/models/llama.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <complex>
#include <fstream>
#include <sstream>

#include "../testing/fixture.h"
#include "../testing/gradcheck.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/ops.h"
#include "nabla/tokenizers/llama2c_tokenizer.h"
#include "llama_test_util.h"

namespace nabla::models {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// Meta's published FeedForward widths: Llama 2 7B (11008), Llama 2 70B (28672, multiplier
// 1.3, multiple_of 4096) and Llama 3 8B (14336, multiplier 1.3, multiple_of 1024).
TEST(LlamaConfig, HiddenDimFollowsMetasRule) {
  EXPECT_EQ((LlamaConfig{.dim = 4096, .multiple_of = 256}).ffn_hidden_dim(), 11008);
  EXPECT_EQ((LlamaConfig{.dim = 8192, .multiple_of = 4096, .ffn_dim_multiplier = 1.3})
                .ffn_hidden_dim(),
            28672);
  EXPECT_EQ((LlamaConfig{.dim = 4096, .multiple_of = 1024, .ffn_dim_multiplier = 1.3})
                .ffn_hidden_dim(),
            14336);
  EXPECT_EQ((LlamaConfig{.dim = 64, .hidden_dim = 172}).ffn_hidden_dim(), 172);
}

TEST(LlamaConfig, ParsesMetaAndHuggingFaceConfigs) {
  const auto meta = LlamaConfig::from_params_json(io::JsonConfig::parse(
      R"({"dim": 8192, "multiple_of": 4096, "ffn_dim_multiplier": 1.3, "n_heads": 64,
          "n_kv_heads": 8, "n_layers": 80, "norm_eps": 1e-05, "vocab_size": -1})"));
  EXPECT_EQ(meta.kv_heads(), 8);
  EXPECT_EQ(meta.ffn_hidden_dim(), 28672);
  EXPECT_EQ(meta.vocab_size, -1);
  const auto hf = LlamaConfig::from_hf_config(io::JsonConfig::parse(
      R"({"hidden_size": 288, "intermediate_size": 768, "num_hidden_layers": 6,
          "num_attention_heads": 6, "num_key_value_heads": 6, "vocab_size": 32000,
          "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "max_position_embeddings": 256,
          "tie_word_embeddings": true, "rope_scaling": null})"));
  EXPECT_EQ(hf.head_dim(), 48);
  EXPECT_EQ(hf.ffn_hidden_dim(), 768);
  EXPECT_EQ(hf.rope_theta, 500000.0);
  EXPECT_TRUE(hf.tie_embeddings);
  EXPECT_THAT([] { Llama(LlamaConfig{.dim = 64, .n_layers = 1, .n_heads = 4, .n_kv_heads = 3}); },
              ThrowsMessage<Error>(HasSubstr("not divisible by n_kv_heads 3")));
}

// Meta's apply_rotary_emb: view pairs as complex numbers and multiply by e^{i pos freq}.
TEST(Llama, RotaryMatchesComplexFormula) {
  const int64_t B = 2, T = 5, H = 3, D = 6;
  const Tensor x = testing::random_input({B, T, H, D}, 7, -1, 1, false);
  auto [cos, sin] = rope_tables(D, 16, 10000.0);
  const int64_t start = 4;
  const Tensor y = apply_rotary_emb(x, cos.narrow(0, start, T), sin.narrow(0, start, T));
  double worst = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < D / 2; ++i) {
          const double freq = std::pow(10000.0, -2.0 * i / D);
          const std::complex<double> z(x.at({b, t, h, 2 * i}), x.at({b, t, h, 2 * i + 1}));
          const auto r = z * std::polar(1.0, (start + t) * freq);
          worst = std::max({worst, std::abs(r.real() - y.at({b, t, h, 2 * i})),
                            std::abs(r.imag() - y.at({b, t, h, 2 * i + 1}))});
        }
  EXPECT_LT(worst, 1e-6);  // the tables are f32, as Meta's and run.c's
}

TEST(Llama, RotaryGradcheck) {
  auto [cos, sin] = rope_tables(4, 8, 10000.0);
  const Tensor c = cos.narrow(0, 2, 3), s = sin.narrow(0, 2, 3);
  EXPECT_TRUE(testing::gradcheck(
      "apply_rotary_emb",
      [&](const std::vector<Tensor>& in) {
        return apply_rotary_emb(in[0].transpose(1, 2), c, s);  // non-contiguous input
      },
      {testing::random_input({2, 2, 3, 4}, 3)}));
}

// The first 64 positions here; llama_slow_test.cpp runs all 256 and compares byte for byte.
TEST(Llama, Stories260KGreedyMatchesRunCPrefix) {
  NABLA_REQUIRE_SHARED_DATA(model_path, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok_path, "tok512.bin");
  NABLA_REQUIRE_SHARED_DATA(expected_path, "stories260K_greedy_once_upon_a_time.txt");
  auto model = Llama::from_llama2c(model_path);
  EXPECT_EQ(model->vocab_size(), 512);
  EXPECT_EQ(model->config().ffn_hidden_dim(), 172);
  EXPECT_EQ(model->output, nullptr);  // shared classifier
  const auto tok = tokenizers::Llama2cTokenizer::load(tok_path, 512);
  const std::string text = greedy_run_c(*model, tok, "Once upon a time", 64);
  const std::string expected = read_text(expected_path);
  EXPECT_GT(text.size(), 150u);
  EXPECT_EQ(text, expected.substr(0, text.size()));
}

TEST(Llama, CachedDecodingEqualsRecompute) {
  NABLA_REQUIRE_SHARED_DATA(model_path, "stories260K.bin");
  auto model = Llama::from_llama2c(model_path, 64);
  NoGradGuard no_grad;
  const Tensor tokens = randint(0, 512, {2, 12});
  const Tensor full = model->forward(tokens);  // (2, 12, 512)
  KVCache cache = model->make_cache(3, 32);
  std::vector<Tensor> parts{model->forward(tokens.narrow(1, 0, 5), 0, &cache)};
  for (int64_t t = 5; t < 12; t += 4) {
    const int64_t len = std::min<int64_t>(4, 12 - t);
    parts.push_back(model->forward(tokens.narrow(1, t, len), t, &cache));
  }
  EXPECT_TRUE(testing::all_close(cat(parts, 1), full, 1e-5, 1e-5));
}

TEST(Llama, RejectsBadTokensAndPositions) {
  auto model = std::make_shared<Llama>(
      LlamaConfig{.dim = 16, .n_layers = 1, .n_heads = 2, .vocab_size = 10, .hidden_dim = 24,
                  .max_seq_len = 8});
  EXPECT_THAT([&] { model->forward(tensor({{1, 10}})); },
              ThrowsMessage<Error>(HasSubstr("token ids must be in [0, 10), got min 1 max 10")));
  EXPECT_THAT([&] { model->forward(tensor({{-1, 2}})); },
              ThrowsMessage<Error>(HasSubstr("got min -1")));
  KVCache cache = model->make_cache(1, 8);
  EXPECT_THAT([&] { model->forward(tensor({{1, 2}}), 7, &cache); },
              ThrowsMessage<Error>(HasSubstr("exceed max_seq_len 8")));
  EXPECT_THAT([&] { model->forward(tensor({{1, 2}}), 1, nullptr); },
              ThrowsMessage<Error>(HasSubstr("needs a KV cache")));
  EXPECT_THAT([&] { model->make_cache(1, 9); }, ThrowsMessage<Error>(HasSubstr("max_seq 9")));
}

TEST(Llama, ParameterNamesAreMetas) {
  auto model = std::make_shared<Llama>(
      LlamaConfig{.dim = 16, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 10,
                  .hidden_dim = 24, .max_seq_len = 8});
  std::vector<std::string> names;
  for (const auto& [n, p] : model->named_parameters()) names.push_back(n);
  EXPECT_EQ(names.size(), 1u + 2 * 9 + 2);
  EXPECT_EQ(names[1], "layers.0.attention.wq.weight");
  EXPECT_EQ(names[2], "layers.0.attention.wk.weight");
  EXPECT_EQ(model->layers[1]->wk->weight.shape(), (Shape{8, 16}));
  EXPECT_EQ(names.back(), "output.weight");
}

// Training (and LoRA) backpropagate through rotary embeddings and attention: every parameter
// gets a gradient, and one weight's gradient agrees with a central difference of the loss.
TEST(Llama, BackwardReachesEveryParameter) {
  manual_seed(3);
  auto model = std::make_shared<Llama>(
      LlamaConfig{.dim = 16, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 11,
                  .hidden_dim = 24, .max_seq_len = 8});
  const Tensor tokens = randint(0, 11, {2, 6}), targets = randint(0, 11, {2, 6});
  auto loss_of = [&] {
    return cross_entropy(model->forward(tokens).reshape({12, 11}), targets.reshape({12}));
  };
  loss_of().backward();
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0) << name;
  }
  Tensor w = model->layers[0]->wk->weight;  // before rotary: the gradient passes through it
  const double analytic = w.grad().at({3, 5});
  NoGradGuard no_grad;
  const double h = 1e-2, orig = w.at({3, 5});
  w.narrow(0, 3, 1).narrow(1, 5, 1).fill_(orig + h);
  const double up = loss_of().item<double>();
  w.narrow(0, 3, 1).narrow(1, 5, 1).fill_(orig - h);
  const double down = loss_of().item<double>();
  EXPECT_NEAR((up - down) / (2 * h), analytic, 2e-3 + 2e-2 * std::abs(analytic));  // f32 loss
}

TEST(Llama, TruncatedCheckpointIsAnIoError) {
  NABLA_REQUIRE_SHARED_DATA(model_path, "stories260K.bin");
  const std::string bytes = read_text(model_path);
  const std::string cut = ::testing::TempDir() + "stories_cut.bin";
  std::ofstream(cut, std::ios::binary).write(bytes.data(), 100000);
  EXPECT_THROW(Llama::from_llama2c(cut), IoError);
  std::remove(cut.c_str());
}

}  // namespace
}  // namespace nabla::models
