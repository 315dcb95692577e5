// LoRA adapters: PEFT's target matching, attaching and freezing, initialisation, the
// trainable-parameter report, the guards against adapters that do not train, dropout on the
// adapter path, enabling/disabling, and merge/unmerge.
#include "nabla/lora/lora.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/rng.h"
#include "nabla/optim/optim.h"
#include "tests/lora/lora_test_util.h"
#include "tests/testing/fixture.h"

namespace nabla::lora {
namespace {

using nabla::testing::TinyLlama;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::ThrowsMessage;

/// Gives every adapter's B random values, as if it had been trained.
void randomize_b(nn::Module& model, double scale = 0.3) {
  NoGradGuard no_grad;
  for (const auto& [n, a] : lora_adapters(model))
    a->lora_B->weight.copy_(randn(a->lora_B->weight.shape()) * scale);
}

TEST(LoraTargets, ParsesCommandLineSpecs) {
  EXPECT_THAT(TargetModules::parse("wq,wv").names, ElementsAre("wq", "wv"));
  EXPECT_THAT(TargetModules::parse("q_proj|v_proj").names, ElementsAre("q_proj", "v_proj"));
  EXPECT_THAT(TargetModules::parse(" c_attn ").names, ElementsAre("c_attn"));
  EXPECT_TRUE(TargetModules::parse("ALL-LINEAR").all_linear);
  const TargetModules re = TargetModules::parse(R"(layers\.0\..*\.wq)");
  EXPECT_THAT(re.names, IsEmpty());
  EXPECT_EQ(re.regex, R"(layers\.0\..*\.wq)");
  EXPECT_THAT(
      [] { TargetModules::parse("(wq"); },
      ThrowsMessage<Error>(HasSubstr("'(wq' is not a valid regex")));
}

TEST(LoraTargets, MatchesAsPeftDoes) {
  // A list: the whole name or its last dotted components (PEFT's key.endswith("." + target)).
  const TargetModules names{"c_attn", "attn.c_proj"};
  EXPECT_TRUE(names.matches("h.0.attn.c_attn"));
  EXPECT_TRUE(names.matches("c_attn"));
  EXPECT_TRUE(names.matches("h.11.attn.c_proj"));
  EXPECT_FALSE(names.matches("h.0.mlp.c_proj"));
  EXPECT_FALSE(names.matches("h.0.attn.xc_attn"));
  // One regex string must match the whole name (re.fullmatch), so a bare name matches nothing
  // deeper than the top level.
  TargetModules re;
  re.regex = "c_attn";
  EXPECT_FALSE(re.matches("h.0.attn.c_attn"));
  re.regex = R"(h\.[01]\.attn\.c_attn)";
  EXPECT_TRUE(re.matches("h.1.attn.c_attn"));
  EXPECT_FALSE(re.matches("h.2.attn.c_attn"));
  const TargetModules all = "all-linear";
  EXPECT_TRUE(all.matches("layers.0.attention.wq"));
  EXPECT_FALSE(all.matches("output"));
  EXPECT_FALSE(all.matches("lm_head"));
}

TEST(ApplyLora, WqWvAttachesNamedAdaptersAndFreezesTheRest) {
  manual_seed(0);
  TinyLlama model;
  const auto adapted = apply_lora(model, {.r = 4, .alpha = 8, .target_modules = "wq,wv"});
  EXPECT_THAT(
      adapted, ElementsAre(
                   "layers.0.attention.wq", "layers.0.attention.wv", "layers.1.attention.wq",
                   "layers.1.attention.wv"));
  std::vector<std::string> trainable;
  int64_t frozen = 0;
  for (const auto& [n, p] : model.named_parameters()) {
    if (p.requires_grad()) {
      trainable.push_back(n);
    } else {
      ++frozen;
    }
  }
  EXPECT_THAT(
      trainable, ElementsAre(
                     "layers.0.attention.wq.lora_A.weight", "layers.0.attention.wq.lora_B.weight",
                     "layers.0.attention.wv.lora_A.weight", "layers.0.attention.wv.lora_B.weight",
                     "layers.1.attention.wq.lora_A.weight", "layers.1.attention.wq.lora_B.weight",
                     "layers.1.attention.wv.lora_A.weight", "layers.1.attention.wv.lora_B.weight"));
  EXPECT_EQ(frozen, 2 * 6 + 2);  // 6 base Linears per layer, norm_weight, output
  const auto adapters = lora_adapters(model);
  ASSERT_EQ(adapters.size(), 4U);
  EXPECT_EQ(adapters[0].second->lora_A->weight.shape(), Shape({4, 8}));  // (r, in)
  EXPECT_EQ(adapters[0].second->lora_B->weight.shape(), Shape({8, 4}));  // (out, r)
  EXPECT_DOUBLE_EQ(adapters[0].second->scaling(), 2.0);
  EXPECT_EQ(lora_parameters(model).size(), 8U);
}

TEST(ApplyLora, FreshAdaptersLeaveOutputsBitwiseUnchanged) {
  manual_seed(1);
  TinyLlama model;
  const Tensor x = randn({2, 3, 8});
  const Tensor before = model.forward(x);
  apply_lora(model, {.r = 2, .alpha = 4, .target_modules = "all-linear"});
  // B = 0 makes every delta exactly 0, and y + 0 == y.
  EXPECT_TRUE(testing::all_close(model.forward(x), before, 0, 0));
}

TEST(ApplyLora, InitIsKaimingUniformAForZeroB) {
  manual_seed(2);
  auto fc = std::make_shared<nn::Linear>(64, 10);
  nn::Sequential model({fc});
  apply_lora(model, {.r = 16, .alpha = 16, .target_modules = {"0"}});
  const auto a = std::dynamic_pointer_cast<LoraLinear>(fc->adapter());
  ASSERT_NE(a, nullptr);
  // kaiming_uniform_(a = sqrt(5)): U(-b, b) with b = sqrt(6 / ((1 + 5) * fan_in)) = 1/sqrt(64).
  const double bound = std::sqrt(6.0 / (6.0 * 64.0));
  const std::vector<double> v = a->lora_A->weight.to_vector();
  double lo = 0, hi = 0, sq = 0;
  for (double e : v) {
    lo = std::min(lo, e);
    hi = std::max(hi, e);
    sq += e * e;
  }
  EXPECT_LE(hi, bound);
  EXPECT_GE(lo, -bound);
  EXPECT_GT(hi, 0.9 * bound);  // 1024 draws reach the top 10% of the range
  EXPECT_NEAR(std::sqrt(sq / static_cast<double>(v.size())), bound / std::sqrt(3.0), 0.1 * bound);
  for (double e : a->lora_B->weight.to_vector()) ASSERT_EQ(e, 0.0);
}

TEST(ApplyLora, AllLinearSkipsTheOutputHead) {
  TinyLlama model;
  const auto adapted = apply_lora(model, {.r = 2, .target_modules = "all-linear"});
  EXPECT_EQ(adapted.size(), 12U);  // 2 layers x (wq, wk, wv, wo, w1, w2)
  EXPECT_FALSE(model.output->adapter());
  EXPECT_FALSE(model.output->weight.requires_grad());
}

TEST(ApplyLora, NothingMatchedListsTheLinearsThatExist) {
  TinyLlama model;
  EXPECT_THAT(
      [&] { apply_lora(model, {.target_modules = "q_proj,v_proj"}); },
      ThrowsMessage<Error>(AllOf(
          HasSubstr("target_modules 'q_proj,v_proj' matched no Linear layer"),
          HasSubstr("wq, wk, wv, wo, w1, w2, output (e.g. layers.0.attention.wq; 13 Linear"))));
  EXPECT_THAT(
      [&] { apply_lora(model, {}); }, ThrowsMessage<Error>(HasSubstr("target_modules is empty")));
  // Nothing changed: no adapter, nothing frozen.
  EXPECT_THAT(lora_adapters(model), IsEmpty());
  EXPECT_EQ(model.num_parameters(true), model.num_parameters());
}

TEST(ApplyLora, RejectsBadConfigsAndSecondAdapters) {
  TinyLlama model;
  EXPECT_THAT(
      ([&] { apply_lora(model, {.r = 0, .target_modules = "wq"}); }),
      ThrowsMessage<Error>(HasSubstr("r must be > 0, got 0")));
  EXPECT_THAT(
      ([&] { apply_lora(model, {.alpha = -1, .target_modules = "wq"}); }),
      ThrowsMessage<Error>(HasSubstr("lora_alpha must be > 0")));
  EXPECT_THAT(
      ([&] { apply_lora(model, {.dropout = 1.0, .target_modules = "wq"}); }),
      ThrowsMessage<Error>(HasSubstr("lora_dropout must be in [0, 1)")));
  apply_lora(model, {.target_modules = "wq"});
  EXPECT_THAT(
      [&] { apply_lora(model, {.target_modules = "wq"}); },
      ThrowsMessage<Error>(HasSubstr("layers.0.attention.wq already has an adapter")));
}

TEST(LoraReport, PrintsPeftsLine) {
  // The seeds' LoRALayer case: Linear(64, 10) with rank 4.
  nn::Sequential model({std::make_shared<nn::Linear>(64, 10)});
  apply_lora(model, {.r = 4, .alpha = 1, .target_modules = {"0"}});
  const int64_t lora = 4 * 64 + 10 * 4, base = 64 * 10 + 10;
  const TrainableParameters tp = trainable_parameters(model);
  EXPECT_EQ(tp.trainable, lora);
  EXPECT_EQ(tp.total, base + lora);
  std::ostringstream os;
  print_trainable_parameters(model, os);
  EXPECT_EQ(os.str(), "trainable params: 296 || all params: 946 || trainable%: 31.29\n");
  EXPECT_EQ(
      (TrainableParameters{.trainable = 8960, .total = 1234567}).str(),
      "trainable params: 8,960 || all params: 1,234,567 || trainable%: 0.73");
}

TEST(LoraGuards, NoTrainableParametersIsAnError) {
  TinyLlama model;
  model.requires_grad_(false);
  EXPECT_THAT(
      [&] { check_trainable(model); },
      ThrowsMessage<Error>(HasSubstr("no parameter of TinyLlama requires grad")));
}

TEST(LoraGuards, WarnsWhileBIsZeroAndStopsAfterAStep) {
  manual_seed(3);
  TinyLlama model;
  apply_lora(model, {.r = 2, .alpha = 4, .target_modules = "wq,wv"});
  EXPECT_EQ(untrained_adapters(model).size(), 4U);
  std::ostringstream before;
  EXPECT_TRUE(warn_if_untrained(model, before));
  EXPECT_THAT(before.str(), HasSubstr("lora_B is still all zero in 4 of 4 adapters"));

  // The optimizer gets the adapters of layer 0 only: layer 1's B stays zero, and says so.
  std::vector<Tensor> params;
  for (const auto& [n, a] : lora_adapters(model)) {
    if (n.rfind("layers.0.", 0) == 0) {
      params.push_back(a->lora_A->weight);
      params.push_back(a->lora_B->weight);
    }
  }
  optim::Adam opt(params, {.lr = 1e-2});
  model.forward(randn({2, 3, 8})).pow(2).mean().backward();
  opt.step();
  EXPECT_THAT(
      untrained_adapters(model), ElementsAre("layers.1.attention.wq", "layers.1.attention.wv"));
  std::ostringstream after;
  EXPECT_TRUE(warn_if_untrained(model, after));
  EXPECT_THAT(after.str(), HasSubstr("2 of 4 adapters (layers.1.attention.wq, ...)"));
}

TEST(LoraForward, MatchesBasePlusScaledLowRankProduct) {
  manual_seed(4);
  auto fc = std::make_shared<nn::Linear>(7, 5);
  nn::Sequential model({fc});
  apply_lora(model, {.r = 3, .alpha = 12, .target_modules = {"0"}});
  randomize_b(model);
  const auto a = lora_adapters(model)[0].second;
  const Tensor x = randn({4, 7});
  // Reference in double: x W^T + b + (alpha / r) x A^T B^T.
  auto d = [](const Tensor& t) { return t.to(kFloat64); };
  const Tensor want = d(x).matmul(d(fc->weight).t()) + d(fc->bias) +
                      d(x).matmul(d(a->lora_A->weight).t()).matmul(d(a->lora_B->weight).t()) * 4.0;
  EXPECT_TRUE(testing::all_close(model.forward(x), want, 1e-5, 1e-6));
  set_adapters_enabled(model, false);
  const Tensor base = d(x).matmul(d(fc->weight).t()) + d(fc->bias);
  EXPECT_TRUE(testing::all_close(model.forward(x), base, 1e-5, 1e-6));
}

TEST(LoraForward, DropoutHitsOnlyTheAdapterInputAndOnlyInTraining) {
  manual_seed(5);
  auto fc = std::make_shared<nn::Linear>(6, 4);
  nn::Sequential model({fc});
  apply_lora(model, {.r = 2, .alpha = 2, .dropout = 0.5, .target_modules = {"0"}});
  randomize_b(model);
  const auto a = lora_adapters(model)[0].second;
  const Tensor x = randn({8, 6});
  manual_seed(77);
  const Tensor got = model.forward(x);
  manual_seed(77);  // the same mask, drawn by hand
  const Tensor dropped = dropout(x, 0.5, true);
  const Tensor want = linear(x, fc->weight, fc->bias) +
                      linear(linear(dropped, a->lora_A->weight), a->lora_B->weight);
  EXPECT_TRUE(testing::all_close(got, want, 1e-6, 1e-6));
  model.eval();
  const Tensor no_drop =
      linear(x, fc->weight, fc->bias) + linear(linear(x, a->lora_A->weight), a->lora_B->weight);
  EXPECT_TRUE(testing::all_close(model.forward(x), no_drop, 1e-6, 1e-6));
}

TEST(LoraMerge, MergedForwardEqualsUnmergedAndUnmergeRestores) {
  manual_seed(6);
  TinyLlama model;
  apply_lora(model, {.r = 4, .alpha = 8, .target_modules = "all-linear"});
  randomize_b(model);
  const Tensor x = randn({2, 5, 8});
  const Tensor unmerged = model.forward(x);
  nn::StateDict before;
  for (const auto& [n, t] : model.state_dict()) before.emplace_back(n, t.clone());

  merge(model);
  for (const auto& [n, a] : lora_adapters(model)) EXPECT_TRUE(a->merged()) << n;
  EXPECT_TRUE(testing::all_close(model.forward(x), unmerged, 1e-5, 1e-5));
  unmerge(model);
  // Subtracting restores W only up to rounding: |W + D - D - W| <= ulp(|W| + |D|).
  const nn::StateDict after = model.state_dict();
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(testing::all_close(after[i].second, before[i].second, 0, 1e-6)) << before[i].first;
  }
  EXPECT_TRUE(testing::all_close(model.forward(x), unmerged, 1e-5, 1e-6));

  // Keeping a copy restores W bitwise.
  nn::StateDict snapshot;
  for (const auto& [n, t] : model.state_dict()) snapshot.emplace_back(n, t.clone());
  merge(model, /*keep_original=*/true);
  unmerge(model);
  const nn::StateDict restored = model.state_dict();
  for (size_t i = 0; i < snapshot.size(); ++i) {
    EXPECT_TRUE(testing::all_close(restored[i].second, snapshot[i].second, 0, 0))
        << snapshot[i].first;
  }
}

TEST(LoraMerge, MergeTwiceIsSkippedAndLayerLevelMisuseThrows) {
  manual_seed(7);
  auto fc = std::make_shared<nn::Linear>(4, 3);
  nn::Sequential model({fc});
  apply_lora(model, {.r = 2, .target_modules = {"0"}});
  randomize_b(model);
  const Tensor x = randn({2, 4});
  const Tensor y = model.forward(x);
  merge(model);
  merge(model);  // already merged: nothing is added twice
  EXPECT_TRUE(testing::all_close(model.forward(x), y, 1e-5, 1e-6));
  const auto a = lora_adapters(model)[0].second;
  EXPECT_THAT([&] { a->merge(*fc); }, ThrowsMessage<Error>(HasSubstr("already merged")));
  unmerge(model);
  EXPECT_THAT([&] { a->unmerge(*fc); }, ThrowsMessage<Error>(HasSubstr("not merged")));
}

}  // namespace
}  // namespace nabla::lora
