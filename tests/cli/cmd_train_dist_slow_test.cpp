// The acceptance run: GPT-2 (gpt2-tiny) trained for 50 steps with global batch 8 on
// 2 ranks (4 each) against 1 process with batch 8, at nanoGPT's lr 6e-4: the same loss curve
// and the same final parameters to 1e-5. About 5 s, hence slow.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/dist_train_util.h"

namespace nabla {
namespace {

using dist::testing::DistTrain;

TEST_F(DistTrain, FiftyStepsOnTwoRanksEqualOneProcess) {
  ASSERT_EQ(run_one(args("one", 8, 50, 50, "6e-4")), 0);
  const dist::testing::MpiRun two =
      dist::testing::mpirun(2, nabla_ + " " + args("two", 4, 50, 50, "6e-4"));
  ASSERT_EQ(two.status, 0) << two.out;
  const dist::testing::Metrics one_m = dist::testing::read_metrics(dir_.file("one.jsonl"));
  ASSERT_EQ(one_m.train.size(), 50u);
  dist::testing::expect_same_curve(one_m, dist::testing::read_metrics(dir_.file("two.jsonl")));
  dist::testing::expect_same_weights(dir_.file("one/model.safetensors"),
                                     dir_.file("two/model.safetensors"));
}

}  // namespace
}  // namespace nabla
