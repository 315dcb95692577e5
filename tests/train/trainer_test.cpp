// Trainer on a tiny CausalLM (embedding + linear): learning, decay groups, exact resume,
// non-finite steps, stop requests, metrics and checkpoints.
#include "nabla/train/trainer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/rng.h"
#include "nabla/nn/embedding.h"
#include "nabla/nn/linear.h"
#include "nabla/optim/schedule.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::train {
namespace {

using ::testing::HasSubstr;
using tokenizers::testing::read_file;
using tokenizers::testing::TempDir;

// logits = Linear(Embedding(tokens)): a bigram model, enough to exercise the loop.
class TinyLM : public models::CausalLM {
 public:
  TinyLM(int64_t vocab, int64_t dim) : vocab_(vocab) {
    wte_ = register_module("wte", std::make_shared<nn::Embedding>(vocab, dim));
    head_ = register_module("head", std::make_shared<nn::Linear>(dim, vocab));
  }
  using CausalLM::forward;
  Tensor forward(const Tensor& tokens, int64_t start_pos, models::KVCache* /*cache*/) override {
    NABLA_CHECK(start_pos == 0, "TinyLM: no cache");
    return head_->forward(wte_->forward(tokens));  // (B, T, V)
  }
  models::KVCache make_cache(int64_t max_batch, int64_t max_seq) const override {
    return {.k = {}, .v = {}, .max_batch = max_batch, .max_seq = max_seq};
  }
  int64_t vocab_size() const override { return vocab_; }
  int64_t max_seq_len() const override { return 64; }
  std::shared_ptr<nn::Linear> head_;

 private:
  int64_t vocab_;
  std::shared_ptr<nn::Embedding> wte_;
};

// A shard where token i+1 = (3 * token i + 1) % V mostly, with some noise: learnable.
data::Shard pattern_shard(const TempDir& dir, const std::string& name, int n, int vocab) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  int32_t x = 0;
  for (int i = 0; i < n; ++i) {
    t[static_cast<size_t>(i)] = x;
    x = (i % 7 == 3) ? (x + 5) % vocab : (3 * x + 1) % vocab;
  }
  data::write_shard(dir.file(name), t, vocab);
  return data::Shard::open(dir.file(name));
}

struct TrainSetup {
  TempDir dir{"trainer"};
  data::Shard train_shard = pattern_shard(dir, "train.bin", 2000, 16);
  data::Shard val_shard = pattern_shard(dir, "val.bin", 400, 16);
  data::TokenLoader train{train_shard, 4, 8, data::Sampling::Random, 1337};
  data::TokenLoader val{val_shard, 4, 8, data::Sampling::Sequential};
  std::shared_ptr<TinyLM> model;
  explicit TrainSetup(uint64_t init_seed = 1) {
    manual_seed(init_seed);
    model = std::make_shared<TinyLM>(16, 12);
  }
};

TrainOptions small_options() {
  return {.max_steps = 40, .grad_accum = 2, .lr = 3e-2, .min_lr = 3e-3, .warmup_steps = 5,
          .weight_decay = 0.1, .grad_clip = 1.0, .eval_every = 10, .eval_iters = 3};
}

std::vector<std::vector<float>> param_values(const nn::Module& m) {
  std::vector<std::vector<float>> out;
  for (const auto& [name, p] : m.named_parameters()) {
    out.emplace_back(p.data<float>(), p.data<float>() + p.numel());
  }
  return out;
}

TEST(Trainer, LossGoesDown) {
  TrainSetup s;
  Trainer t(*s.model, s.train, &s.val, small_options());
  const double before = t.evaluate();
  const FitResult r = t.fit();
  EXPECT_EQ(r.step, 40);
  ASSERT_TRUE(r.val_loss.has_value());
  EXPECT_NEAR(before, std::log(16.0), 0.5);  // untrained: about uniform
  EXPECT_LT(*r.val_loss, before - 1.0);
}

// bf16 mixed precision: the same run with the linear layers multiplying in bf16 learns the
// same thing (f32 master weights absorb the rounding), and the weights end close to f32's.
TEST(Trainer, Bf16AutocastTracksF32) {
  TrainSetup f32_run, bf16_run;
  TrainOptions o = small_options();
  Trainer a(*f32_run.model, f32_run.train, &f32_run.val, o);
  o.autocast = kBFloat16;
  Trainer b(*bf16_run.model, bf16_run.train, &bf16_run.val, o);
  const FitResult ra = a.fit(), rb = b.fit();
  ASSERT_TRUE(ra.val_loss.has_value() && rb.val_loss.has_value());
  EXPECT_NEAR(*rb.val_loss, *ra.val_loss, 0.005);  // measured: 1.5e-4 apart
  EXPECT_NE(*rb.val_loss, *ra.val_loss);  // the bf16 products did run
  const auto pa = param_values(*f32_run.model), pb = param_values(*bf16_run.model);
  double worst = 0;
  for (size_t i = 0; i < pa.size(); ++i)
    for (size_t j = 0; j < pa[i].size(); ++j)
      worst = std::max(worst, static_cast<double>(std::abs(pa[i][j] - pb[i][j])));
  EXPECT_LT(worst, 0.01);  // measured: 0.0024
}

TEST(Trainer, DecayGroupsAndFrozenParameters) {
  TrainSetup s;
  s.model->head_->named_parameters()[1].second.requires_grad_(false);  // freeze head.bias
  Trainer t(*s.model, s.train, &s.val, small_options());
  const auto& groups = t.optimizer().param_groups();
  ASSERT_EQ(groups.size(), 1u);  // wte.weight and head.weight (2-D); the frozen bias is absent
  EXPECT_EQ(groups[0].params.size(), 2u);
  EXPECT_EQ(*groups[0].weight_decay, 0.1);
  const Tensor bias = s.model->head_->named_parameters()[1].second.clone();
  t.fit(3);
  EXPECT_EQ(s.model->head_->named_parameters()[1].second.to_vector(), bias.to_vector());
  TrainSetup s2;
  Trainer t2(*s2.model, s2.train, &s2.val, small_options());
  ASSERT_EQ(t2.optimizer().param_groups().size(), 2u);
  EXPECT_EQ(t2.optimizer().param_groups()[1].params.size(), 1u);  // head.bias: no decay
  EXPECT_EQ(*t2.optimizer().param_groups()[1].weight_decay, 0.0);
}

TEST(Trainer, LearningRateFollowsWarmupCosine) {
  TrainSetup s;
  TrainOptions o = small_options();
  Trainer t(*s.model, s.train, &s.val, o);
  for (int64_t i = 0; i < 7; ++i) {
    const StepStats st = t.train_step();
    EXPECT_EQ(st.lr, optim::cosine_with_warmup_lr(i, 5, 40, 3e-2, 3e-3));
    EXPECT_EQ(st.tokens, 2 * 4 * 8);
    EXPECT_EQ(*t.optimizer().param_groups()[0].lr, st.lr);
  }
}

// 2N steps in one run equal N steps + checkpoint + a fresh process's resume + N steps.
TEST(Trainer, ResumeIsBitwiseExact) {
  TrainSetup a;
  TrainOptions o = small_options();
  o.max_steps = 12;
  Trainer ta(*a.model, a.train, &a.val, o);
  ta.fit();
  const auto expected = param_values(*a.model);

  TempDir out("trainer_out");
  TrainSetup b;
  o.out_dir = out.path();
  {
    Trainer tb(*b.model, b.train, &b.val, o);
    const FitResult r = tb.fit(6);
    EXPECT_EQ(r.step, 6);
    EXPECT_EQ(r.checkpoint, out.file("checkpoint"));
  }
  manual_seed(999);  // the resumed run must not depend on the generator's state before resume
  TrainSetup c(/*init_seed=*/42);
  Trainer tc(*c.model, c.train, &c.val, o);
  tc.resume(out.path());
  EXPECT_EQ(tc.step(), 6);
  EXPECT_EQ(c.train.position(), 6 * 2);
  tc.fit();
  EXPECT_EQ(param_values(*c.model), expected);
  EXPECT_EQ(tc.optimizer().state(0).exp_avg_sq.to_vector(),
            ta.optimizer().state(0).exp_avg_sq.to_vector());
}

TEST(Trainer, NonFiniteLossStopsWithoutTouchingTheCheckpoint) {
  TempDir out("trainer_out");
  TrainSetup s;
  TrainOptions o = small_options();
  o.out_dir = out.path();
  Trainer t(*s.model, s.train, &s.val, o);
  t.fit(4);
  const std::string model_bytes = read_file(out.file("checkpoint/model.safetensors"));
  const std::string meta = read_file(out.file("checkpoint/trainer.json"));
  {
    NoGradGuard g;
    s.model->head_->named_parameters()[0].second.fill_(std::nan(""));
  }
  EXPECT_THAT([&] { t.fit(); }, ::testing::ThrowsMessage<Error>(AllOf(
                                    HasSubstr("step 5: the loss is nan"),
                                    HasSubstr("checkpoint is unchanged"))));
  EXPECT_EQ(t.step(), 4);
  EXPECT_EQ(read_file(out.file("checkpoint/model.safetensors")), model_bytes);
  EXPECT_EQ(read_file(out.file("checkpoint/trainer.json")), meta);
}

TEST(Trainer, StopRequestFinishesTheStepAndSaves) {
  TempDir out("trainer_out");
  TrainSetup s;
  TrainOptions o = small_options();
  o.out_dir = out.path();
  request_stop();
  Trainer t(*s.model, s.train, &s.val, o);
  const FitResult r = t.fit();
  clear_stop();
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.step, 1);
  const auto j = nlohmann::json::parse(read_file(out.file("checkpoint/trainer.json")));
  EXPECT_EQ(j.at("step"), 1);
  EXPECT_EQ(j.at("train_data").at("position"), 2);
}

TEST(Trainer, MetricsAndProgressLines) {
  TempDir out("trainer_out");
  TrainSetup s;
  TrainOptions o = small_options();
  o.max_steps = 10;
  o.eval_every = 5;
  o.metrics_path = out.file("metrics.jsonl");
  std::ostringstream log;
  o.log = &log;
  Trainer t(*s.model, s.train, &s.val, o);
  t.fit();
  std::ifstream in(o.metrics_path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    ++n;
    EXPECT_EQ(j.at("step"), n);
    EXPECT_TRUE(j.contains("train_loss") && j.contains("lr") && j.contains("grad_norm"));
    EXPECT_EQ(j.contains("val_loss"), n % 5 == 0) << line;
  }
  EXPECT_EQ(n, 10);
  EXPECT_THAT(log.str(), HasSubstr("step 5/10 | loss "));
  EXPECT_THAT(log.str(), HasSubstr("| val "));
  EXPECT_THAT(log.str(), HasSubstr("tok/s | MFU "));
  EXPECT_THAT(log.str(), HasSubstr("ETA "));
}

TEST(Trainer, CheckpointReplacesAtomicallyAndResumeChecksShapes) {
  TempDir out("trainer_out");
  TrainSetup s;
  TrainOptions o = small_options();
  Trainer t(*s.model, s.train, &s.val, o);
  t.train_step();
  t.save_checkpoint(out.file("ck"));
  t.train_step();
  t.save_checkpoint(out.file("ck"));
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(out.path())) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"ck"});  // no temporary directories left
  const auto j = nlohmann::json::parse(read_file(out.file("ck/trainer.json")));
  EXPECT_EQ(j.at("step"), 2);

  data::TokenLoader other(s.train_shard, 2, 8, data::Sampling::Random, 1);
  Trainer t2(*s.model, other, &s.val, o);
  EXPECT_THAT([&] { t2.resume(out.file("ck")); },
              ::testing::ThrowsMessage<Error>(HasSubstr("global batch of 4")));
  EXPECT_THAT([&] { t2.resume(out.file("nothing")); },
              ::testing::ThrowsMessage<IoError>(HasSubstr("no trainer.json")));
  auto bigger = std::make_shared<TinyLM>(16, 10);
  Trainer t3(*bigger, s.train, &s.val, o);
  EXPECT_THROW(t3.resume(out.file("ck")), Error);  // shape mismatch names the key
}

TEST(Trainer, BadOptionsAndDataAreErrors) {
  TrainSetup s;
  TrainOptions o = small_options();
  o.max_steps = 0;
  EXPECT_THROW(Trainer(*s.model, s.train, &s.val, o), Error);
  auto small_vocab = std::make_shared<TinyLM>(8, 4);
  EXPECT_THAT([&] { Trainer(*small_vocab, s.train, &s.val, small_options()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("larger than the model's")));
}

}  // namespace
}  // namespace nabla::train
