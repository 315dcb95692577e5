// Learning-rate schedules against torch.optim.lr_scheduler values and nanoGPT's get_lr.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/optim/optim_testing.h"

namespace nabla::optim {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using namespace nabla::optim::testing;  // NOLINT(google-build-using-namespace)

// The fixture's setup: SGD with lr 0.5 on one parameter; lr after construction, then after
// each of 12 steps. Schedules are closed forms where torch chains multiplications, so values
// agree to a few ulps, not bitwise.
void expect_schedule(const std::string& name,
                     const std::function<std::unique_ptr<LRScheduler>(Optimizer&)>& make) {
  const auto f = nabla::testing::load_fixture("optim_schedule");
  Tensor p = make_param(from_values({1}, kFloat32));
  SGD opt({p}, {.lr = 0.5});
  auto sched = make(opt);
  std::vector<double> lrs{sched->get_last_lr()[0]};
  for (int k = 0; k < 12; ++k) {
    opt.step();
    sched->step();
    lrs.push_back(sched->get_last_lr()[0]);
    EXPECT_EQ(*opt.param_groups()[0].lr, lrs.back());
  }
  EXPECT_TRUE(nabla::testing::all_close(from_values(lrs, kFloat64), f[name], 1e-14, 0)) << name;
}

TEST(Schedule, StepLRMatchesTorch) {
  expect_schedule("step_lr", [](Optimizer& o) { return std::make_unique<StepLR>(o, 3, 0.5); });
}

TEST(Schedule, LambdaLRMatchesTorch) {
  expect_schedule("lambda_lr", [](Optimizer& o) {
    return std::make_unique<LambdaLR>(o, [](int64_t e) { return std::pow(0.95, e); });
  });
}

TEST(Schedule, ConstantLRMatchesTorch) {
  expect_schedule("constant_lr",
                  [](Optimizer& o) { return std::make_unique<ConstantLR>(o, 0.25, 4); });
}

TEST(Schedule, CosineWithWarmupMatchesNanoGPT) {
  const auto f = nabla::testing::load_fixture("optim_schedule");
  Tensor p = make_param(from_values({1}, kFloat32));
  AdamW opt(std::vector<ParamGroup>{{.params = {p}}});
  CosineWithWarmup sched(opt, 10, 50, 6e-4, 6e-5);
  std::vector<double> lrs;
  for (int it = 0; it < 60; ++it) {
    lrs.push_back(*opt.param_groups()[0].lr);  // the lr iteration `it` trains with
    EXPECT_EQ(lrs.back(), cosine_with_warmup_lr(it, 10, 50, 6e-4, 6e-5));
    sched.step();
  }
  EXPECT_TRUE(nabla::testing::all_close(from_values(lrs, kFloat64), f["cosine"], 1e-15, 0));
}

TEST(Schedule, SetsEveryGroupFromItsBaseLr) {
  Tensor a = make_param(from_values({1}, kFloat32)), b = make_param(from_values({1}, kFloat32));
  SGD opt(std::vector<ParamGroup>{{.params = {a}}, {.params = {b}, .lr = 0.2}}, {.lr = 0.1});
  StepLR sched(opt, 1, 0.5);
  sched.step();
  EXPECT_EQ(sched.get_last_lr(), (std::vector<double>{0.1 * 0.5, 0.2 * 0.5}));
  EXPECT_EQ(sched.base_lrs(), (std::vector<double>{0.1, 0.2}));
}

TEST(Schedule, StateDictResumes) {
  Tensor p = make_param(from_values({1}, kFloat32));
  SGD opt({p}, {.lr = 0.5});
  StepLR sched(opt, 2, 0.1);
  for (int k = 0; k < 5; ++k) sched.step();
  Tensor q = make_param(from_values({1}, kFloat32));
  SGD opt2({q}, {.lr = 0.5});
  StepLR sched2(opt2, 2, 0.1);
  sched2.load_state_dict(sched.state_dict());
  EXPECT_EQ(sched2.last_epoch(), 5);
  EXPECT_EQ(*opt2.param_groups()[0].lr, *opt.param_groups()[0].lr);
  sched.step();
  sched2.step();
  EXPECT_EQ(sched2.get_last_lr(), sched.get_last_lr());
  EXPECT_THAT([&] { sched2.load_state_dict({}); },
              ThrowsMessage<Error>(HasSubstr("missing key last_epoch")));
}

TEST(Schedule, InvalidArgumentsThrow) {
  Tensor p = make_param(from_values({1}, kFloat32));
  SGD opt({p}, {.lr = 0.5});
  EXPECT_THAT([&] { StepLR(opt, 0); }, ThrowsMessage<Error>(HasSubstr("step_size")));
  EXPECT_THAT([&] { CosineWithWarmup(opt, 10, 10, 1e-3, 1e-4); },
              ThrowsMessage<Error>(HasSubstr("warmup_steps < max_steps")));
  EXPECT_THAT([&] { ConstantLR(opt, 2.0); }, ThrowsMessage<Error>(HasSubstr("between 0 and 1")));
}

}  // namespace
}  // namespace nabla::optim
