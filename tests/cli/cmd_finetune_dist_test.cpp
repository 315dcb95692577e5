// `mpirun -np 2 nabla finetune` (LoRA on stories260K) against one process with the doubled
// batch: the same loss curve and the same adapter (to 1e-5); a checkpoint written by 2 ranks
// resumed by 1; ranks that build different adapters fail together. Skips when mpirun or the
// shared data is missing.
#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/dist_train_util.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using dist::testing::DistFinetune;
using dist::testing::expect_same_curve;
using dist::testing::expect_same_weights;
using dist::testing::read_metrics;

TEST_F(DistFinetune, TwoRanksEqualOneProcessAndResumeOnOne) {
  ASSERT_EQ(run_one(args("one", 4, 8)), 0);
  const dist::testing::MpiRun two = run_two(args("two", 2, 8));
  ASSERT_EQ(two.status, 0) << two.out;
  // Rank 0 alone prints and writes.
  EXPECT_THAT(two.out, HasSubstr("done at step 8"));
  EXPECT_EQ(two.out.find("trainable params"), two.out.rfind("trainable params")) << two.out;
  EXPECT_THAT(two.out, Not(HasSubstr("warning")));
  const dist::testing::Metrics one_m = read_metrics(dir_.file("one.jsonl"));
  ASSERT_EQ(one_m.train.size(), 8U);
  expect_same_curve(one_m, read_metrics(dir_.file("two.jsonl")));
  const std::string adapter = "/adapter_model.safetensors";
  expect_same_weights(dir_.file("one") + adapter, dir_.file("two") + adapter);

  // 4 steps on 2 ranks, then a single process continues the same run from their checkpoint.
  const dist::testing::MpiRun half = run_two(args("mix", 2, 4));
  ASSERT_EQ(half.status, 0) << half.out;
  ASSERT_EQ(run_one(args("mix", 4, 8) + " --resume " + dir_.file("mix")), 0);
  expect_same_curve(one_m, read_metrics(dir_.file("mix.jsonl")));
  expect_same_weights(dir_.file("one") + adapter, dir_.file("mix") + adapter);
}

// Ranks whose adapters differ (another --lora-r on rank 1) stop with one clear message before
// any weights move.
TEST_F(DistFinetune, RanksWithDifferentAdaptersAreAClearError) {
  const std::string rank_cmd =
      "sh -c '" + nabla_ + " " + args("diff", 2, 4) + " --lora-r $((4 + OMPI_COMM_WORLD_RANK))'";
  const dist::testing::MpiRun r = dist::testing::mpirun(2, rank_cmd, 60);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.status, 124) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 1 has a model of"));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("diff") + "/adapter_model.safetensors"));
}

}  // namespace
}  // namespace nabla
