// The tiny Llama of tools/fixtures/llama.py (written like Meta's model.py, 2 layers, 4 heads,
// 2 kv heads) loaded from every format PyTorch saved it in gives PyTorch's logits; broken
// checkpoints give errors naming the tensor or file.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../testing/fixture.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/io/safetensors.h"
#include "nabla/io/safetensors_index.h"
#include "nabla/io/torch_pth.h"
#include "nabla/models/llama.h"
#include "nabla/ops/ops.h"

namespace nabla::models {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

std::string fixture_path(const std::string& rel) {
  return std::string(NABLA_FIXTURE_DIR) + "/llama/" + rel;
}

// PyTorch's f32 logits; nabla sums in other orders (GEMM blocking), so 1e-5 relative with a
// 1e-5 floor for logits near zero.
void expect_reference_logits(Llama& model) {
  const auto fx = testing::load_fixture("llama");
  NoGradGuard no_grad;
  EXPECT_TRUE(testing::all_close(model.forward(fx["tokens"]), fx["logits"], 1e-5, 1e-5));
}

class TempCopy {
 public:
  explicit TempCopy(const std::string& from) {
    dir_ = fs::temp_directory_path() /
           ("nabla_llama_" + std::string(::testing::UnitTest::GetInstance()
                                             ->current_test_info()->name()) +
            "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::copy(from, dir_, fs::copy_options::recursive);
  }
  ~TempCopy() { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::string dir() const { return dir_.string(); }

 private:
  fs::path dir_;
};

TEST(LlamaFormats, Llama2cVersion1MatchesPyTorch) {
  auto model = Llama::from_llama2c(fixture_path("tiny_v1.bin"));
  EXPECT_NE(model->output, nullptr);  // separate classifier
  EXPECT_EQ(model->config().ffn_hidden_dim(), 64);
  expect_reference_logits(*model);
}

TEST(LlamaFormats, HuggingFaceBf16MatchesPyTorch) {
  auto model = Llama::from_hf(fixture_path("hf"));
  EXPECT_EQ(model->config().kv_heads(), 2);
  expect_reference_logits(*model);
}

TEST(LlamaFormats, HuggingFaceShardedF16MatchesPyTorch) {
  auto model = Llama::from_hf(fixture_path("hf_sharded"));
  expect_reference_logits(*model);
  auto again = Llama::from_hf(fixture_path("hf_sharded/model.safetensors.index.json"));
  expect_reference_logits(*again);
}

TEST(LlamaFormats, MetaShardedPthMatchesPyTorch) {
  auto model = Llama::from_meta(fixture_path("meta"));
  EXPECT_EQ(model->vocab_size(), 96);  // params.json says -1: taken from tok_embeddings
  expect_reference_logits(*model);
  expect_reference_logits(*load_llama(fixture_path("meta")));
  expect_reference_logits(*load_llama(fixture_path("hf")));
  expect_reference_logits(*load_llama(fixture_path("tiny_v1.bin")));
}

TEST(LlamaFormats, MetaShardMissingATensorIsNamed) {
  TempCopy copy(fixture_path("meta"));
  std::vector<io::Weights> shards;
  shards.push_back(io::load_torch_pth(copy.file("consolidated.00.pth")));
  io::Weights second("torch.save", copy.file("consolidated.01.pth"));
  const io::Weights full = io::load_torch_pth(copy.file("consolidated.01.pth"));
  for (const auto& e : full.entries()) {
    if (e.name != "layers.1.attention.wo.weight") second.add(e.name, e.tensor);
  }
  shards.push_back(std::move(second));
  const auto config =
      LlamaConfig::from_params_json(io::JsonConfig::load(copy.file("params.json")));
  EXPECT_THAT([&] { merge_meta_shards(shards, config); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("missing tensor layers.1.attention.wo"),
                                           HasSubstr("consolidated.01.pth"))));
}

TEST(LlamaFormats, MetaParamsGiveTheSameConfigAsHuggingFace) {
  const auto meta = LlamaConfig::from_params_json(io::JsonConfig::parse(
      R"({"dim": 32, "multiple_of": 32, "ffn_dim_multiplier": 0.75, "n_heads": 4,
          "n_kv_heads": 2, "n_layers": 2, "norm_eps": 1e-05, "vocab_size": 96})"));
  const auto hf =
      LlamaConfig::from_hf_config(io::JsonConfig::load(fixture_path("hf/config.json")));
  EXPECT_EQ(meta.ffn_hidden_dim(), hf.ffn_hidden_dim());
  EXPECT_EQ(meta.head_dim(), hf.head_dim());
  EXPECT_EQ(meta.kv_heads(), hf.kv_heads());
}


TEST(LlamaFormats, MissingShardIsNamed) {
  TempCopy copy(fixture_path("hf_sharded"));
  fs::remove(copy.file("model-00002-of-00002.safetensors"));
  EXPECT_THAT([&] { Llama::from_hf(copy.dir()); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("shard model-00002-of-00002.safetensors"),
                                           HasSubstr("not found"))));
}

TEST(LlamaFormats, MissingAndUnexpectedTensorsAreNamed) {
  TempCopy copy(fixture_path("hf"));
  io::Weights w = io::load_safetensors(copy.file("model.safetensors"));
  std::vector<std::pair<std::string, Tensor>> kept, extra;
  for (const auto& e : w.entries()) {
    if (e.name != "model.layers.1.mlp.up_proj.weight") kept.emplace_back(e.name, e.tensor.clone());
  }
  extra = kept;
  extra.emplace_back("model.layers.1.mlp.up_proj.weight", zeros({64, 32}));
  extra.emplace_back("model.layers.1.mlp.extra.weight", zeros({2}));
  io::save_safetensors(copy.file("model.safetensors"), kept);
  EXPECT_THAT([&] { Llama::from_hf(copy.dir()); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("missing tensor layers.1.feed_forward.w3"),
                                           HasSubstr("model.safetensors"))));
  io::save_safetensors(copy.file("model.safetensors"), extra);
  EXPECT_THAT([&] { Llama::from_hf(copy.dir()); },
              ThrowsMessage<IoError>(HasSubstr("unexpected tensor model.layers.1.mlp.extra")));
}

TEST(LlamaFormats, WrongShapeIsNamed) {
  TempCopy copy(fixture_path("hf"));
  io::Weights w = io::load_safetensors(copy.file("model.safetensors"));
  std::vector<std::pair<std::string, Tensor>> t;
  for (const auto& e : w.entries()) {
    t.emplace_back(e.name, e.name == "model.norm.weight" ? zeros({31}) : e.tensor.clone());
  }
  io::save_safetensors(copy.file("model.safetensors"), t);
  EXPECT_THAT([&] { Llama::from_hf(copy.dir()); },
              ThrowsMessage<IoError>(HasSubstr("norm.weight is [31], model expects [32]")));
}

}  // namespace
}  // namespace nabla::models
