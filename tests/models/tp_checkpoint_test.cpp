// Tensor-parallel checkpoints of whole models in one process: a tiny GQA Llama and a tiny
// GPT-2 (tied and untied heads, odd vocabularies and widths) written as N shards load back
// with bitwise the same logits for every N (the shards are copies, merging is exact); the
// folder loads through load_causal_lm; impossible splits and incomplete folders are named.
// The same on several ranks: tests/cli/cmd_shard_test.cpp.
#include "nabla/models/tp_checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/rng.h"
#include "nabla/generate/load.h"
#include "nabla/models/gpt2.h"
#include "nabla/models/llama.h"
#include "nabla/nn/init.h"
#include "nabla/ops/ops.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::models {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

std::shared_ptr<Llama> tiny_llama(bool tied) {
  manual_seed(5);
  // 4 query heads on 2 key/value heads, hidden width 45 (ranks hold 22 and 23 units), an odd
  // vocabulary (the head's blocks of ceil(67 / 2) rows differ in size).
  auto m = std::make_shared<Llama>(LlamaConfig{
      .dim = 32,
      .n_layers = 2,
      .n_heads = 4,
      .n_kv_heads = 2,
      .vocab_size = 67,
      .hidden_dim = 45,
      .max_seq_len = 32,
      .tie_embeddings = tied});
  NoGradGuard no_grad;
  for (auto& [name, p] : m->named_parameters()) {  // norms start at 1: make them tell apart
    if (name.ends_with("norm.weight"))
      nn::init::normal_(p, 1.0, 0.1);
  }
  m->eval();
  return m;
}

std::shared_ptr<Gpt2> tiny_gpt2(bool tied) {
  manual_seed(6);
  Gpt2Config c = Gpt2Config::preset("gpt2-tiny");
  c.vocab_size = 127;
  c.tie_word_embeddings = tied;
  auto m = std::make_shared<Gpt2>(c);
  NoGradGuard no_grad;
  for (auto& [name, p] : m->named_parameters()) {  // biases start at 0
    if (name.ends_with(".bias"))
      nn::init::normal_(p, 0.0, 0.1);
  }
  m->eval();
  return m;
}

Tensor logits(CausalLM& m) {
  NoGradGuard no_grad;
  return m.forward(tensor(std::vector<int64_t>{3, 1, 4, 1, 5, 9, 2, 6}).view({2, 4}));
}

void expect_round_trips(CausalLM& model, const std::string& dir, std::vector<int64_t> counts) {
  const std::vector<double> want = logits(model).to_vector();
  for (int64_t n : counts) {
    save_sharded(model, dir, n);
    EXPECT_TRUE(std::filesystem::exists(
        dir + "/model-tp-00000-of-0000" + std::to_string(n) + ".safetensors"));
    const std::shared_ptr<CausalLM> back = load_sharded(dir);
    EXPECT_EQ(back->name(), model.name());
    EXPECT_EQ(logits(*back).to_vector(), want) << n << " shards";
  }
}

class TpCheckpointModels : public ::testing::Test {
 protected:
  tokenizers::testing::TempDir tmp_{"tp_checkpoint"};
  std::string dir_ = tmp_.file("ckpt");
};

TEST_F(TpCheckpointModels, GqaLlamaRoundTripsBitwise) {
  expect_round_trips(*tiny_llama(false), dir_, {1, 2});
  expect_round_trips(*tiny_llama(true), dir_, {2});
}

TEST_F(TpCheckpointModels, Gpt2RoundTripsBitwise) {
  expect_round_trips(*tiny_gpt2(true), dir_, {2, 4});
  expect_round_trips(*tiny_gpt2(false), dir_, {2});
}

// Written 2 ways, read back and written 1 way (one process re-splits), then as a plain
// folder through load_causal_lm, which nabla generate uses.
TEST_F(TpCheckpointModels, ReshardsThroughLoadCausalLm) {
  auto model = tiny_llama(false);
  save_sharded(*model, dir_, 2);
  const auto two = generation::load_causal_lm(dir_, 16);
  EXPECT_EQ(two->max_seq_len(), 16);
  save_sharded(*two, tmp_.file("one"), 1);
  EXPECT_EQ(
      logits(*generation::load_causal_lm(tmp_.file("one"))).to_vector(),
      logits(*model).to_vector());
}

// Meta's two consolidated.NN.pth (merged on load) become 2 shards under HF names, and back.
TEST_F(TpCheckpointModels, MetaShardsReshardBitwise) {
  auto meta = Llama::from_meta(std::string(NABLA_FIXTURE_DIR) + "/llama/meta");
  meta->eval();
  save_sharded(*meta, dir_, 2);
  EXPECT_EQ(logits(*load_sharded(dir_)).to_vector(), logits(*meta).to_vector());
}

TEST_F(TpCheckpointModels, ImpossibleSplitNamesHeadsAndRanks) {
  EXPECT_THAT(
      [&] { save_sharded(*tiny_llama(false), dir_, 4); },
      ThrowsMessage<Error>(HasSubstr("n_kv_heads 2 (n_heads 4) is not divisible by 4")));
  EXPECT_THAT(
      [&] { save_sharded(*tiny_gpt2(true), dir_, 3); },
      ThrowsMessage<Error>(HasSubstr("n_head 4 is not divisible by 3")));
  EXPECT_THAT(
      [&] { save_sharded(*tiny_gpt2(true), dir_, 0); },
      ThrowsMessage<Error>(HasSubstr("shards must be in [1, 4096], got 0")));
  EXPECT_FALSE(std::filesystem::exists(dir_));
}

TEST_F(TpCheckpointModels, FolderWithoutIndexIsIncomplete) {
  save_sharded(*tiny_gpt2(true), dir_, 2);
  std::filesystem::remove(dir_ + "/model-tp.index.json");
  EXPECT_THAT(
      [&] { generation::load_causal_lm(dir_); },
      ThrowsMessage<IoError>(
          AllOf(HasSubstr("model-tp-0000"), HasSubstr("checkpoint is incomplete"))));
}

TEST_F(TpCheckpointModels, PackedModelIsRefused) {
  auto model = tiny_gpt2(true);
  model->pack_weights(WeightFormat::BF16);
  EXPECT_THAT(
      [&] { save_sharded(*model, dir_, 2); },
      ThrowsMessage<Error>(HasSubstr("the weights are packed")));
}

}  // namespace
}  // namespace nabla::models
