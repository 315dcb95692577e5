// GPT-2 checkpoints: save_pretrained / from_pretrained (safetensors in HF names and Conv1D
// layouts + config.json), HF variants (transformer. prefix, lm_head.weight, mask buffers,
// f16/bf16), llm.c round trips, and every error path naming the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "nabla/io/llmc.h"
#include "nabla/io/safetensors.h"
#include "nabla/models/gpt2.h"
#include "nabla/ops/ops.h"
#include "tests/io/io_test_util.h"

namespace nabla::models {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using io::testing::TempDir;

Gpt2Config tiny(bool qkv_bias = true, bool tied = true) {
  Gpt2Config c = Gpt2Config::preset("gpt2-tiny");
  c.qkv_bias = qkv_bias;
  c.tie_word_embeddings = tied;
  return c;
}

void expect_same_parameters(const Gpt2& a, const Gpt2& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    EXPECT_TRUE(equal(pa[i].second, pb[i].second)) << pa[i].first;
  }
}

// The model's weights as a Hugging Face file would hold them (contiguous, HF layouts).
io::Weights hf_weights(const Gpt2& model, const std::string& prefix = "") {
  io::Weights w("safetensors", "hf.safetensors");
  for (const auto& [name, t] : model.hf_state_dict()) w.add(prefix + name, t.contiguous());
  return w;
}

TEST(Gpt2Checkpoint, SavePretrainedRoundTrip) {
  TempDir dir;
  for (bool tied : {true, false}) {
    manual_seed(1);
    Gpt2Config c = tiny(!tied, tied);
    c.resid_pdrop = 0.1;
    Gpt2 model(c);
    const std::string out = dir.file(tied ? "tied" : "untied");
    model.save_pretrained(out);
    auto loaded = Gpt2::from_pretrained(out);
    EXPECT_EQ(loaded->config(), c);
    expect_same_parameters(model, *loaded);
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(out)) files.push_back(e.path().filename());
    std::sort(files.begin(), files.end());
    EXPECT_EQ(files, (std::vector<std::string>{"config.json", "model.safetensors"}));  // no temps
  }
}

TEST(Gpt2Checkpoint, SafetensorsUseHuggingFaceNamesAndConv1DLayouts) {
  TempDir dir;
  manual_seed(2);
  Gpt2 model(tiny());
  model.save_pretrained(dir.file("m"));
  const io::Weights w = io::load_safetensors(dir.file("m") + "/model.safetensors");
  EXPECT_EQ(w.size(), model.named_parameters().size());
  EXPECT_FALSE(w.contains("lm_head.weight"));  // tied: HF leaves it out too
  // HF's Conv1D holds [in, out]: c_attn.weight [64, 192] is nn::Linear's [192, 64] transposed.
  EXPECT_EQ(w.at("h.0.attn.c_attn.weight").shape(), Shape({64, 192}));
  EXPECT_TRUE(equal(w.at("h.0.attn.c_attn.weight"), model.h[0]->attn->c_attn->weight.t()));
  EXPECT_EQ(w.at("h.1.mlp.c_fc.weight").shape(), Shape({64, 256}));
  EXPECT_EQ(w.at("h.1.mlp.c_proj.weight").shape(), Shape({256, 64}));
  EXPECT_TRUE(equal(w.at("h.1.mlp.c_proj.weight"), model.h[1]->mlp->c_proj->weight.t()));
  EXPECT_TRUE(equal(w.at("wte.weight"), model.wte->weight));  // embeddings are not transposed
  EXPECT_EQ(w.metadata.at("format"), "pt");
  const io::JsonConfig json = io::JsonConfig::load(dir.file("m") + "/config.json");
  EXPECT_EQ(json.get_string("model_type"), "gpt2");
  EXPECT_EQ(json.get_int("n_embd"), 64);
}

TEST(Gpt2Checkpoint, HfStateDictHoldsEveryParameterInModuleOrder) {
  for (bool tied : {true, false}) {
    Gpt2 model(tiny(tied, tied));
    const auto hf = model.hf_state_dict();
    const auto params = model.named_parameters();
    ASSERT_EQ(hf.size(), params.size());
    for (size_t i = 0; i < hf.size(); ++i) {
      EXPECT_EQ(hf[i].first, params[i].first);
      EXPECT_EQ(hf[i].second.numel(), params[i].second.numel());
    }
  }
}

TEST(Gpt2Checkpoint, LoadsTransformerPrefixLmHeadAndMaskBuffers) {
  manual_seed(3);
  Gpt2 source(tiny());
  // GPT2LMHeadModel.state_dict(): transformer.* plus lm_head.weight (= wte) and, in older
  // files, the attention mask buffers.
  io::Weights w = hf_weights(source, "transformer.");
  w.add("lm_head.weight", source.wte->weight.clone());
  for (int l = 0; l < 2; ++l) {
    w.add("transformer.h." + std::to_string(l) + ".attn.bias", ones({1, 1, 32, 32}));
    w.add("transformer.h." + std::to_string(l) + ".attn.masked_bias", full({}, -1e4));
  }
  manual_seed(4);
  Gpt2 target(tiny());
  target.load_hf_weights(w);
  expect_same_parameters(source, target);
}

TEST(Gpt2Checkpoint, ConvertsHalfPrecisionWeights) {
  manual_seed(5);
  Gpt2 source(tiny());
  io::Weights w("safetensors", "bf16.safetensors");
  for (const auto& [name, t] : source.hf_state_dict()) w.add(name, t.to(kBFloat16));
  Gpt2 target(tiny());
  target.load_hf_weights(w);
  EXPECT_TRUE(equal(target.h[0]->attn->c_attn->weight,
                    source.h[0]->attn->c_attn->weight.to(kBFloat16).to(kFloat32)));
}

TEST(Gpt2Checkpoint, MissingTensorsAreListedWithTheFile) {
  Gpt2 model(tiny());
  io::Weights w("safetensors", "dir/model.safetensors");
  for (const auto& [name, t] : model.hf_state_dict()) {
    if (name.find("h.1.") != 0) w.add(name, t);
  }
  EXPECT_THAT([&] { model.load_hf_weights(w); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("12 GPT-2 tensor(s) missing: h.1.ln_1.weight"),
                                           HasSubstr("dir/model.safetensors"))));
  // An untied model needs lm_head.weight.
  Gpt2 untied(tiny(true, false));
  const io::Weights tied_file = hf_weights(model);
  EXPECT_THAT([&] { untied.load_hf_weights(tied_file); },
              ThrowsMessage<IoError>(HasSubstr("missing: lm_head.weight")));
}

TEST(Gpt2Checkpoint, UnexpectedTensorsAreErrors) {
  manual_seed(6);
  Gpt2 model(tiny(false));
  const Tensor before = model.wte->weight.clone();
  Gpt2 with_bias(tiny(true));
  const io::Weights w = hf_weights(with_bias);
  EXPECT_THAT([&] { model.load_hf_weights(w); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("2 tensor(s) not used by the model: "
                                                     "h.0.attn.c_attn.bias, h.1.attn.c_attn.bias"),
                                           HasSubstr("hf.safetensors"))));
  EXPECT_TRUE(equal(model.wte->weight, before));  // nothing copied
}

TEST(Gpt2Checkpoint, ShapeAndDtypeMismatchesAreErrors) {
  Gpt2 model(tiny());
  io::Weights w("safetensors", "x.safetensors");
  for (const auto& [name, t] : model.hf_state_dict()) {
    // An nn.Linear layout where HF's Conv1D is expected.
    w.add(name, name == "h.0.attn.c_attn.weight" ? model.h[0]->attn->c_attn->weight : t);
  }
  EXPECT_THAT([&] { model.load_hf_weights(w); },
              ThrowsMessage<IoError>(HasSubstr(
                  "h.0.attn.c_attn.weight is [192, 64], model expects [64, 192]")));
  io::Weights ints("safetensors", "i.safetensors");
  for (const auto& [name, t] : model.hf_state_dict()) {
    ints.add(name, name == "wpe.weight" ? zeros({32, 64}, kInt64) : t);
  }
  EXPECT_THAT([&] { model.load_hf_weights(ints); },
              ThrowsMessage<IoError>(HasSubstr("wpe.weight is torch.int64, GPT-2 needs floating point")));
}

TEST(Gpt2Checkpoint, UntiedHeadInATiedConfigIsAnError) {
  manual_seed(7);
  Gpt2 model(tiny());
  io::Weights w = hf_weights(model);
  w.add("lm_head.weight", randn({128, 64}));
  EXPECT_THAT([&] { model.load_hf_weights(w); },
              ThrowsMessage<IoError>(HasSubstr("lm_head.weight differs from wte.weight")));
}

TEST(Gpt2Checkpoint, ConfigFileErrorsNameTheFile) {
  TempDir dir;
  EXPECT_THAT([&] { Gpt2::from_pretrained(dir.file("nowhere")); },
              ThrowsMessage<IoError>(HasSubstr("nowhere/config.json")));
}

TEST(Gpt2Checkpoint, LlmcRoundTrip) {
  TempDir dir;
  manual_seed(8);
  Gpt2 model(tiny());
  model.save_llmc(dir.file("tiny.bin"));
  const io::LlmcCheckpoint raw = io::load_llmc(dir.file("tiny.bin"));
  EXPECT_EQ(raw.config.padded_vocab_size, 128);
  EXPECT_EQ(raw.config.num_layers, 2);
  auto loaded = Gpt2::from_llmc(dir.file("tiny.bin"));
  expect_same_parameters(model, *loaded);
  EXPECT_EQ(loaded->config().n_positions, 32);
  EXPECT_EQ(loaded->config().resid_pdrop, 0.0);  // llm.c has no dropout

  // A vocabulary that is not a multiple of 128 is padded with zero rows, as llm.c does.
  Gpt2Config odd = tiny();
  odd.vocab_size = 100;
  Gpt2 small(odd);
  small.save_llmc(dir.file("odd.bin"), kBFloat16);
  EXPECT_EQ(io::load_llmc(dir.file("odd.bin")).config.padded_vocab_size, 128);
  auto back = Gpt2::from_llmc(dir.file("odd.bin"));
  EXPECT_TRUE(equal(back->wte->weight, small.wte->weight.to(kBFloat16).to(kFloat32)));
}

TEST(Gpt2Checkpoint, SaveLlmcNeedsItsLayout) {
  TempDir dir;
  Gpt2 no_bias(tiny(false));
  EXPECT_THAT([&] { no_bias.save_llmc(dir.file("a.bin")); },
              ThrowsMessage<Error>(HasSubstr("llm.c checkpoints need qkv_bias and a tied head")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.bin")));
  Gpt2 model(tiny());
  EXPECT_THAT([&] { model.save_llmc(dir.file("b.bin"), kFloat64); },
              ThrowsMessage<DTypeError>(HasSubstr("f32 or bf16")));
}

}  // namespace
}  // namespace nabla::models
