// LoRA adapters on disk in PEFT's format: the files' fields and tensor names, a save/load round
// trip onto a fresh base model and into one that already has adapters (resume), and the errors
// for an empty adapter, another base model, a wrong rank, missing fields and PEFT features
// nabla does not implement.
#include "nabla/lora/adapter_io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/rng.h"
#include "nabla/io/safetensors.h"
#include "tests/io/io_test_util.h"
#include "tests/lora/lora_test_util.h"
#include "tests/testing/fixture.h"

namespace nabla::lora {
namespace {

using nabla::testing::TinyLlama;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using json = nlohmann::json;

void randomize_b(nn::Module& model) {
  NoGradGuard no_grad;
  for (const auto& [n, a] : lora_adapters(model))
    a->lora_B->weight.copy_(randn(a->lora_B->weight.shape()));
}

/// Copies the base weights of `from` into `to` (same architecture, no adapters on `to`).
void copy_base(nn::Module& from, nn::Module& to) {
  nn::StateDict base;
  for (const auto& [n, t] : from.state_dict()) {
    if (n.find("lora_") == std::string::npos)
      base.emplace_back(n, t);
  }
  to.load_state_dict(base);
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

void write_json(const std::string& path, const json& j) {
  std::ofstream(path) << j.dump(2);
}

class AdapterIo : public ::testing::Test {
 protected:
  void SetUp() override {
    manual_seed(10);
    apply_lora(model_, config_);
    randomize_b(model_);
    dir_ = tmp_.file("adapter");
  }
  io::testing::TempDir tmp_;
  LoraConfig config_{
      .r = 4,
      .alpha = 16,
      .dropout = 0.05,
      .target_modules = "wq,wv",
      .base_model_name_or_path = "stories-tiny"};
  TinyLlama model_;
  std::string dir_;
};

TEST_F(AdapterIo, WritesPeftsConfigAndTensorNames) {
  save_adapter(model_, dir_, config_);
  const json c = read_json(dir_ + "/adapter_config.json");
  EXPECT_EQ(c["peft_type"], "LORA");
  EXPECT_EQ(c["r"], 4);
  EXPECT_EQ(c["lora_alpha"], 16);
  EXPECT_DOUBLE_EQ(c["lora_dropout"].get<double>(), 0.05);
  EXPECT_EQ(c["target_modules"], json({"wq", "wv"}));
  EXPECT_EQ(c["base_model_name_or_path"], "stories-tiny");
  EXPECT_EQ(c["task_type"], "CAUSAL_LM");
  EXPECT_EQ(c["bias"], "none");
  EXPECT_EQ(c["fan_in_fan_out"], false);
  EXPECT_EQ(c["use_dora"], false);
  const io::Weights w = io::load_safetensors(dir_ + "/adapter_model.safetensors");
  EXPECT_THAT(
      w.names(), ElementsAre(
                     "base_model.model.layers.0.attention.wq.lora_A.weight",
                     "base_model.model.layers.0.attention.wq.lora_B.weight",
                     "base_model.model.layers.0.attention.wv.lora_A.weight",
                     "base_model.model.layers.0.attention.wv.lora_B.weight",
                     "base_model.model.layers.1.attention.wq.lora_A.weight",
                     "base_model.model.layers.1.attention.wq.lora_B.weight",
                     "base_model.model.layers.1.attention.wv.lora_A.weight",
                     "base_model.model.layers.1.attention.wv.lora_B.weight"));
  EXPECT_EQ(w.at("base_model.model.layers.0.attention.wq.lora_A.weight").shape(), Shape({4, 8}));
  EXPECT_EQ(w.at("base_model.model.layers.0.attention.wq.lora_B.weight").shape(), Shape({8, 4}));
  EXPECT_EQ(w.metadata.at("format"), "pt");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/adapter_model.safetensors.tmp"));
}

TEST_F(AdapterIo, RoundTripOntoAFreshBaseGivesTheSameOutputs) {
  save_adapter(model_, dir_, config_);
  TinyLlama fresh;
  copy_base(model_, fresh);
  const LoraConfig c = load_adapter(fresh, dir_);
  EXPECT_EQ(c.r, 4);
  EXPECT_DOUBLE_EQ(c.alpha, 16.0);
  EXPECT_DOUBLE_EQ(c.dropout, 0.05);
  EXPECT_THAT(c.target_modules.names, ElementsAre("wq", "wv"));
  EXPECT_EQ(c.base_model_name_or_path, "stories-tiny");
  model_.eval();
  fresh.eval();
  const Tensor x = randn({2, 3, 8});
  EXPECT_TRUE(testing::all_close(fresh.forward(x), model_.forward(x), 0, 0));
  // is_trainable false (PEFT's default): an adapter loaded for inference is frozen too.
  EXPECT_EQ(fresh.num_parameters(true), 0);
  TinyLlama trainable;
  load_adapter(trainable, dir_, /*is_trainable=*/true);
  EXPECT_EQ(trainable.num_parameters(true), 4 * (4 * 8 + 8 * 4));
}

TEST_F(AdapterIo, LoadsIntoExistingAdaptersToResume) {
  save_adapter(model_, dir_, config_);
  TinyLlama resumed;
  copy_base(model_, resumed);
  apply_lora(resumed, config_);
  load_adapter(resumed, dir_, /*is_trainable=*/true);
  const auto want = adapter_state_dict(model_);
  const auto got = adapter_state_dict(resumed);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_TRUE(testing::all_close(got[i].second, want[i].second, 0, 0)) << got[i].first;
  }
  TinyLlama other_rank;
  apply_lora(other_rank, {.r = 2, .alpha = 16, .target_modules = "wq,wv"});
  EXPECT_THAT(
      [&] { load_adapter(other_rank, dir_); },
      ThrowsMessage<IoError>(
          HasSubstr("the model's adapter on layers.0.attention.wq has r = 2, lora_alpha = 16.0; "
                    "the file's r = 4, lora_alpha = 16.0")));
}

TEST_F(AdapterIo, AllLinearIsWrittenAsTheAdaptedNames) {
  TinyLlama all;
  const LoraConfig c{.r = 2, .target_modules = "all-linear"};
  apply_lora(all, c);
  save_adapter(all, dir_, c);
  EXPECT_EQ(
      read_json(dir_ + "/adapter_config.json")["target_modules"],
      json({"w1", "w2", "wk", "wo", "wq", "wv"}));
  TinyLlama again;
  load_adapter(again, dir_);
  EXPECT_EQ(lora_adapters(again).size(), 12U);
}

TEST_F(AdapterIo, RefusesAnEmptyAdapterAndMismatchedConfig) {
  TinyLlama bare;
  EXPECT_THAT(
      [&] { save_adapter(bare, dir_, config_); },
      ThrowsMessage<Error>(HasSubstr("has no LoRA adapters, refusing to write an empty adapter")));
  EXPECT_FALSE(std::filesystem::exists(dir_));
  LoraConfig wrong = config_;
  wrong.r = 8;
  EXPECT_THAT(
      [&] { save_adapter(model_, dir_, wrong); },
      ThrowsMessage<Error>(HasSubstr("has r = 4, lora_alpha = 16 but the config says r = 8")));
}

TEST_F(AdapterIo, AdapterForAnotherBaseModelSaysWhatDoesNotFit) {
  save_adapter(model_, dir_, config_);
  // Same names, other sizes: every tensor's shape is reported.
  TinyLlama wider(2, 6);
  EXPECT_THAT(
      [&] { load_adapter(wider, dir_); },
      ThrowsMessage<IoError>(AllOf(
          HasSubstr("does not fit TinyLlama"),
          HasSubstr("base_model.model.layers.0.attention.wq.lora_A.weight is [4, 8], the model "
                    "needs [4, 6] for layers.0.attention.wq (in 6, out 6)"),
          HasSubstr("adapter_model.safetensors against adapter_config.json: r = 4"),
          HasSubstr("trained on 'stories-tiny'"))));
  // Fewer layers: the file has modules the model lacks.
  TinyLlama shallow(1);
  EXPECT_THAT(
      [&] { load_adapter(shallow, dir_); },
      ThrowsMessage<IoError>(HasSubstr(
          "the file has weights for layers.1.attention.wq, which is not a Linear of the model")));
  // Other module names altogether (a GPT-2 adapter on a Llama).
  nn::Sequential gpt({std::make_shared<nn::Linear>(8, 8)});
  EXPECT_THAT(
      [&] { load_adapter(gpt, dir_); },
      ThrowsMessage<IoError>(HasSubstr("target_modules 'wq,wv' selects no Linear")));
  // Nothing was attached by the failed loads.
  EXPECT_TRUE(lora_adapters(wider).empty());
  EXPECT_EQ(wider.num_parameters(true), wider.num_parameters());
}

TEST_F(AdapterIo, WrongRankInTheFile) {
  save_adapter(model_, dir_, config_);
  json c = read_json(dir_ + "/adapter_config.json");
  c["r"] = 8;
  write_json(dir_ + "/adapter_config.json", c);
  TinyLlama fresh;
  EXPECT_THAT(
      [&] { load_adapter(fresh, dir_); },
      ThrowsMessage<IoError>(
          HasSubstr("base_model.model.layers.0.attention.wq.lora_A.weight is [4, 8], the model "
                    "needs [8, 8] for layers.0.attention.wq (in 8, out 8); rank 4 in the file, "
                    "but adapter_config.json says r = 8")));
}

TEST_F(AdapterIo, MissingTensorAndForeignTensor) {
  save_adapter(model_, dir_, config_);
  auto tensors = adapter_state_dict(model_);
  tensors.erase(tensors.begin() + 1);  // layers.0.attention.wq.lora_B
  tensors.emplace_back("base_model.model.layers.0.attention.wq.base_layer.weight", zeros({8, 8}));
  io::save_safetensors(dir_ + "/adapter_model.safetensors", tensors);
  TinyLlama fresh;
  EXPECT_THAT(
      [&] { load_adapter(fresh, dir_); },
      ThrowsMessage<IoError>(AllOf(
          HasSubstr("no lora_B weight for layers.0.attention.wq "
                    "(base_model.model.layers.0.attention.wq.lora_B.weight)"),
          HasSubstr("layers.0.attention.wq.base_layer.weight, which is not a LoRA weight"))));
}

// PEFT saves adapters in the model's dtype: a bf16 file loads (widened to the f32 adapter), an
// integer tensor is an error naming it.
TEST_F(AdapterIo, Bf16TensorsLoadAndIntegerTensorsAreRejected) {
  save_adapter(model_, dir_, config_);
  auto tensors = adapter_state_dict(model_);
  for (auto& [n, t] : tensors) t = t.to(kBFloat16);
  io::save_safetensors(dir_ + "/adapter_model.safetensors", tensors);
  TinyLlama fresh;
  load_adapter(fresh, dir_);
  const auto got = adapter_state_dict(fresh);
  ASSERT_EQ(got.size(), tensors.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].second.dtype(), kFloat32);
    EXPECT_TRUE(testing::all_close(got[i].second, tensors[i].second.to(kFloat32), 0, 0));
  }
  tensors[2].second = zeros(tensors[2].second.shape(), kInt32);
  io::save_safetensors(dir_ + "/adapter_model.safetensors", tensors);
  TinyLlama other;
  EXPECT_THAT(
      [&] { load_adapter(other, dir_); },
      ThrowsMessage<IoError>(HasSubstr(
          "base_model.model.layers.0.attention.wv.lora_A.weight has dtype torch.int32, not a "
          "floating type")));
}

// Loading onto a model that already has adapters (resuming): the file must hold exactly them.
TEST_F(AdapterIo, OntoExistingAdaptersTheFileMustHoldExactlyThem) {
  save_adapter(model_, dir_, config_);
  TinyLlama only_q;
  apply_lora(only_q, {.r = 4, .alpha = 16, .target_modules = "wq"});
  EXPECT_THAT(
      [&] { load_adapter(only_q, dir_); },
      ThrowsMessage<IoError>(HasSubstr(
          "the file has weights for layers.0.attention.wv, which has no adapter in the model")));
}

TEST_F(AdapterIo, ConfigErrors) {
  save_adapter(model_, dir_, config_);
  const json good = read_json(dir_ + "/adapter_config.json");
  const std::string path = dir_ + "/adapter_config.json";
  auto expect_error = [&](const json& c, const std::string& what) {
    write_json(path, c);
    TinyLlama fresh;
    EXPECT_THAT([&] { load_adapter(fresh, dir_); }, ThrowsMessage<IoError>(HasSubstr(what)))
        << c.dump();
    EXPECT_TRUE(lora_adapters(fresh).empty());
  };
  for (const char* field : {"r", "lora_alpha", "target_modules", "peft_type"}) {
    json c = good;
    c.erase(field);
    expect_error(c, std::string("missing field \"") + field + "\"");
  }
  json c = good;
  c["peft_type"] = "PREFIX_TUNING";
  expect_error(c, "peft_type is \"PREFIX_TUNING\", not \"LORA\"");
  c = good;
  c["r"] = "8";
  expect_error(c, "r must be a positive integer, got \"8\"");
  c = good;
  c["use_dora"] = true;
  expect_error(c, "use_dora = true is not supported");
  c = good;
  c["rank_pattern"] = {{"wq", 16}};
  expect_error(c, "rank_pattern = {\"wq\":16} is not supported");
  c = good;
  c["bias"] = "all";
  expect_error(c, "bias = \"all\" is not supported");
  c = good;
  c["target_modules"] = 3;
  expect_error(c, "target_modules must be a list of names or a regex string");
  std::ofstream(path) << "{\"r\": 8,";
  TinyLlama fresh;
  EXPECT_THAT(
      [&] { load_adapter(fresh, dir_); }, ThrowsMessage<IoError>(HasSubstr("invalid JSON")));
  EXPECT_THAT(
      [&] { load_adapter(fresh, dir_ + "/nowhere"); },
      ThrowsMessage<IoError>(HasSubstr("no adapter_config.json in")));
}

TEST_F(AdapterIo, AcceptsPeftWrittenConfigs) {
  // As PEFT writes it for a Conv1D model (fan_in_fan_out true) with a regex target: A and B
  // have the same layout either way, so the adapter loads.
  save_adapter(model_, dir_, config_);
  json c = read_json(dir_ + "/adapter_config.json");
  c["fan_in_fan_out"] = true;
  c["target_modules"] = R"(layers\.\d+\.attention\.(wq|wv))";
  c["lora_alpha"] = 16.0;
  c["revision"] = nullptr;
  c["layers_to_transform"] = nullptr;
  write_json(dir_ + "/adapter_config.json", c);
  TinyLlama fresh;
  copy_base(model_, fresh);
  const LoraConfig got = load_adapter(fresh, dir_);
  EXPECT_EQ(got.target_modules.regex, R"(layers\.\d+\.attention\.(wq|wv))");
  const Tensor x = randn({1, 2, 8});
  model_.eval();
  fresh.eval();  // no dropout on either side
  EXPECT_TRUE(testing::all_close(fresh.forward(x), model_.forward(x), 0, 0));
}

}  // namespace
}  // namespace nabla::lora
