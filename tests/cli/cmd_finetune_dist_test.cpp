// `mpirun -np 2 nabla finetune` (LoRA on stories260K) against one process with the doubled
// batch: the same loss curve and the same adapter (to 1e-5); a checkpoint written by 2 ranks
// resumed by 1; ranks that build different adapters fail together. Skips when mpirun or the
// shared data is missing.
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/dist_train_util.h"
#include "tests/testing/fixture.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using dist::testing::expect_same_curve;
using dist::testing::expect_same_weights;
using dist::testing::read_metrics;

class DistFinetune : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(nabla_)) GTEST_SKIP() << "the nabla binary is not built";
    if (!dist::testing::have_mpirun()) {
      GTEST_SKIP() << "mpirun is not installed (tools/setup.sh installs openmpi-bin)";
    }
    NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
    NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
    NABLA_REQUIRE_SHARED_DATA(text, "tinyshakespeare.txt");
    model_ = model;
    std::ifstream in(text, std::ios::binary);
    std::string head(20000, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(dir_.file("text.txt"), std::ios::binary) << head;
    ASSERT_EQ(run_one("prepare --input " + dir_.file("text.txt") + " --out " + dir_.file("data") +
                      " --tokenizer " + tok),
              0);
  }
  // The same run except for --batch-size (per rank), --max-steps and the output folder; the
  // schedule ends at step 8 whatever --max-steps, so a run cut short and resumed matches.
  std::string args(const std::string& out, int64_t batch, int64_t steps) const {
    return "finetune --base " + model_ + " --data " + dir_.file("data") + " --out " +
           dir_.file(out) + " --lora-targets wq,wv --lora-r 4 --block-size 16 --batch-size " +
           std::to_string(batch) + " --max-steps " + std::to_string(steps) +
           " --lr-decay-steps 8 --warmup-steps 2 --lr 1e-3 --eval-every 4 --eval-iters 2"
           " --threads 1 --metrics " + dir_.file(out + ".jsonl");
  }
  int run_one(const std::string& a) const {
    return std::system(
        (nabla_ + " " + a + " > " + dir_.file("one.log") + " 2>&1 < /dev/null").c_str());
  }
  dist::testing::MpiRun run_two(const std::string& a) const {
    return dist::testing::mpirun(2, nabla_ + " " + a, 60);
  }
  std::string nabla_ = std::string(NABLA_BINARY_DIR) + "/nabla";
  std::string model_;
  tokenizers::testing::TempDir dir_{"dist_finetune"};
};

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
