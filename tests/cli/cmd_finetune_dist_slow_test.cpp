// The acceptance run for LoRA: stories260K fine-tuned (wq,wv) for 50 steps with a
// global batch of 8 on 2 ranks (4 each) against 1 process with batch 8: the same loss curve
// and the same adapter to 1e-5.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/dist_train_util.h"

namespace nabla {
namespace {

using dist::testing::DistFinetune;

TEST_F(DistFinetune, FiftyStepsOnTwoRanksEqualOneProcess) {
  ASSERT_EQ(run_one(args("one", 8, 50, 50)), 0);
  const dist::testing::MpiRun two = run_two(args("two", 4, 50, 50));
  ASSERT_EQ(two.status, 0) << two.out;
  const dist::testing::Metrics one_m = dist::testing::read_metrics(dir_.file("one.jsonl"));
  ASSERT_EQ(one_m.train.size(), 50U);
  dist::testing::expect_same_curve(one_m, dist::testing::read_metrics(dir_.file("two.jsonl")));
  dist::testing::expect_same_weights(dir_.file("one/adapter_model.safetensors"),
                                     dir_.file("two/adapter_model.safetensors"));
}

}  // namespace
}  // namespace nabla
