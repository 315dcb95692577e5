// `mpirun -np 2 nabla train` against one process with the doubled batch: the same loss
// curve and the same final parameters (to 1e-5), a checkpoint written by 2 ranks resumed by
// 1, all-reduce overlapped with backward or not (the same bits), and a dead rank ending the
// job. Skips when mpirun is not installed.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nabla/io/safetensors.h"
#include "tests/cli/dist_train_util.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using dist::testing::DistTrain;
using dist::testing::expect_same_curve;
using dist::testing::expect_same_weights;
using dist::testing::Metrics;
using dist::testing::read_metrics;

TEST_F(DistTrain, TwoRanksEqualOneProcessWithDoubleBatch) {
  ASSERT_EQ(run_one(args("one", 4, 20)), 0);
  const dist::testing::MpiRun two = dist::testing::mpirun(2, nabla_ + " " + args("two", 2, 20));
  ASSERT_EQ(two.status, 0) << two.out;
  EXPECT_THAT(two.out, HasSubstr("on each of 2 ranks"));
  EXPECT_THAT(two.out, HasSubstr("step 20/20"));
  const Metrics one_m = read_metrics(dir_.file("one.jsonl"));
  EXPECT_EQ(one_m.train.size(), 20u);
  expect_same_curve(one_m, read_metrics(dir_.file("two.jsonl")));  // rank 0 alone wrote it
  expect_same_weights(dir_.file("one/model.safetensors"), dir_.file("two/model.safetensors"));
  const auto ck = nlohmann::json::parse(std::ifstream(dir_.file("two/checkpoint/trainer.json")));
  EXPECT_EQ(ck.at("train_data").at("batch_size"), 4);  // the global batch
  EXPECT_EQ(ck.at("world_size"), 2);
}

TEST_F(DistTrain, TwoRankCheckpointResumesOnOneProcess) {
  ASSERT_EQ(run_one(args("one", 4, 20)), 0);
  const dist::testing::MpiRun half = dist::testing::mpirun(2, nabla_ + " " + args("mix", 2, 10));
  ASSERT_EQ(half.status, 0) << half.out;
  ASSERT_EQ(run_one(args("mix", 4, 20) + " --resume " + dir_.file("mix")), 0);
  expect_same_curve(read_metrics(dir_.file("one.jsonl")), read_metrics(dir_.file("mix.jsonl")));
  expect_same_weights(dir_.file("one/model.safetensors"), dir_.file("mix/model.safetensors"));
  // A different global batch cannot continue the data stream: a clear error.
  ASSERT_NE(run_one(args("mix", 8, 30) + " --resume " + dir_.file("mix")), 0);
  const std::string log = tokenizers::testing::read_file(dir_.file("one.log"));
  EXPECT_THAT(log, HasSubstr("a global batch of 4"));
  EXPECT_THAT(log, HasSubstr("this run uses 8 (1 rank(s) x 8)"));
}

// Gradient buckets averaged during the backward pass (the default) or after it: the same
// bits, also with accumulation (only the last micro-batch's backward averages).
TEST_F(DistTrain, OverlappedAllReduceGivesTheSameBits) {
  const std::string common = " --grad-accum 2 --overlap-grad-reduce ";
  const dist::testing::MpiRun off =
      dist::testing::mpirun(2, nabla_ + " " + args("off", 2, 6) + common + "0");
  ASSERT_EQ(off.status, 0) << off.out;
  const dist::testing::MpiRun on =
      dist::testing::mpirun(2, nabla_ + " " + args("on", 2, 6) + common + "1");
  ASSERT_EQ(on.status, 0) << on.out;
  EXPECT_EQ(read_metrics(dir_.file("off.jsonl")).train, read_metrics(dir_.file("on.jsonl")).train);
  EXPECT_EQ(tokenizers::testing::read_file(dir_.file("off/model.safetensors")),
            tokenizers::testing::read_file(dir_.file("on/model.safetensors")));
  const std::string metrics = tokenizers::testing::read_file(dir_.file("on.jsonl"));
  const auto line = nlohmann::json::parse(metrics.substr(0, metrics.find('\n')));
  EXPECT_LE(line.at("allreduce_wait_s").get<double>(), line.at("allreduce_s").get<double>());
  ASSERT_NE(run_one(args("bad", 2, 1) + " --overlap-grad-reduce 2"), 0);
  EXPECT_THAT(tokenizers::testing::read_file(dir_.file("one.log")),
              HasSubstr("train: --overlap-grad-reduce expects 0 or 1, got 2"));
}

// Ranks that build different models fail together with one clear message, before any
// weights move (instead of hanging or truncating a broadcast).
TEST_F(DistTrain, RanksWithDifferentModelsAreAClearError) {
  const std::string rank_cmd = "sh -c '" + nabla_ + " " + args("diff", 2, 5) +
                               " --n-layer $((1 + OMPI_COMM_WORLD_RANK))'";
  const dist::testing::MpiRun r = dist::testing::mpirun(2, rank_cmd, 60);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.status, 124) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 1 has a model of"));
  EXPECT_THAT(r.out, HasSubstr("every rank must build the same model"));
}

// A rank killed mid-training (SIGKILL once the first checkpoint exists) ends the job within
// seconds: mpirun stops the other rank instead of leaving it waiting in its next all-reduce,
// says which rank died, and the last checkpoint stays whole (checkpoints are swapped in).
TEST_F(DistTrain, DeadRankEndsTheJobAndKeepsTheCheckpoint) {
  const std::string train = nabla_ + " " + args("dead", 2, 100000) + " --checkpoint-every 5";
  const std::string marker = dir_.file("dead/checkpoint/trainer.json");
  // Rank 1's shell starts a watcher, then becomes nabla (exec keeps the pid the watcher kills).
  const std::string rank_cmd =
      "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (i=0; while [ ! -f " + marker +
      " ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; kill -9 $$) & exec " + train +
      "; else exec " + train + "; fi'";
  const dist::testing::MpiRun r = dist::testing::mpirun(2, rank_cmd, 60);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.status, 124) << "the job hung after a rank died:\n" << r.out;  // timeout's code
  EXPECT_THAT(r.out, HasSubstr("rank 1"));
  EXPECT_THAT(r.out, HasSubstr("signal 9"));
  const auto ck = nlohmann::json::parse(std::ifstream(marker));
  EXPECT_EQ(ck.at("step").get<int64_t>() % 5, 0);
  EXPECT_NO_THROW(io::load_safetensors(dir_.file("dead/checkpoint/model.safetensors")));
  EXPECT_NO_THROW(io::load_safetensors(dir_.file("dead/checkpoint/optimizer.safetensors")));
  // ... and one process resumes it (the same global batch of 4).
  const int64_t step = ck.at("step").get<int64_t>();
  ASSERT_EQ(run_one(args("dead", 4, step + 1) + " --resume " + dir_.file("dead")), 0)
      << tokenizers::testing::read_file(dir_.file("one.log"));
  EXPECT_THAT(tokenizers::testing::read_file(dir_.file("one.log")),
              HasSubstr("resumed from " + dir_.file("dead") + " at step " + std::to_string(step)));
}

}  // namespace
}  // namespace nabla
