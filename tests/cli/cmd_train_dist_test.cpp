// `mpirun -np 2 nabla train` against one process with the doubled batch: the same loss
// curve and the same final parameters (to 1e-5), and a checkpoint written by 2 ranks
// resumed by 1. Skips when mpirun is not installed.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nabla/io/safetensors.h"
#include "tests/dist/mpirun_util.h"
#include "tests/tokenizers/helpers.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using tokenizers::testing::write_file;

// Sums split over ranks round differently from one sum. Most weights then differ by < 1e-6;
// the largest difference is in the key bias (c_attn.bias[C:2C]), whose gradient is zero in
// exact arithmetic, so Adam turns rounding noise into steps of up to lr. Measured on
// gpt2-tiny after 50 steps: 3e-6 at lr 6e-4, 7e-6 at 1e-3, 6e-5 at 3e-3; this test runs 20
// steps at 1e-3.
constexpr double kTol = 1e-5;

struct Metrics {
  std::vector<double> train, val;  // per step; val NaN where none
};

Metrics read_metrics(const std::string& path) {
  Metrics m;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    m.train.push_back(j.at("train_loss").get<double>());
    m.val.push_back(j.contains("val_loss") ? j.at("val_loss").get<double>() : std::nan(""));
  }
  return m;
}

void expect_same_curve(const Metrics& a, const Metrics& b) {
  ASSERT_EQ(a.train.size(), b.train.size());
  for (size_t i = 0; i < a.train.size(); ++i) {
    EXPECT_NEAR(a.train[i], b.train[i], kTol) << "train loss of step " << i + 1;
    EXPECT_EQ(std::isnan(a.val[i]), std::isnan(b.val[i])) << "step " << i + 1;
    if (!std::isnan(a.val[i])) {
      EXPECT_NEAR(a.val[i], b.val[i], kTol) << "val loss of step " << i + 1;
    }
  }
}

void expect_same_weights(const std::string& a_path, const std::string& b_path) {
  const io::Weights a = io::load_safetensors(a_path), b = io::load_safetensors(b_path);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& e : a.entries()) {
    const std::vector<double> x = e.tensor.to_vector(), y = b.at(e.name).to_vector();
    ASSERT_EQ(x.size(), y.size()) << e.name;
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
    EXPECT_LE(worst, kTol) << e.name;
  }
}

class DistTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(nabla_)) GTEST_SKIP() << "the nabla binary is not built";
    if (!dist::testing::have_mpirun()) {
      GTEST_SKIP() << "mpirun is not installed (tools/setup.sh installs openmpi-bin)";
    }
    std::string text;
    for (int i = 0; i < 200; ++i) text += "to be or not to be, that is the question.\n";
    write_file(dir_.file("in.txt"), text);
    const int st = std::system((nabla_ + " prepare --input " + dir_.file("in.txt") + " --out " +
                                dir_.file("ds") + " --tokenizer char --val-fraction 0.1 > " +
                                dir_.file("prepare.log") + " 2>&1").c_str());
    ASSERT_EQ(st, 0);
  }
  // The same run except for --batch-size (per rank), --max-steps and the output folder.
  std::string args(const std::string& out, int64_t batch, int64_t steps) {
    return "train --data " + dir_.file("ds") + " --out " + dir_.file(out) +
           " --model gpt2-tiny --block-size 16 --batch-size " + std::to_string(batch) +
           " --max-steps " + std::to_string(steps) + " --lr-decay-steps 20 --warmup-steps 3" +
           " --lr 1e-3 --eval-every 5 --eval-iters 2 --threads 1 --log-every 1 --metrics " +
           dir_.file(out + ".jsonl");
  }
  int run_one(const std::string& a) {
    return std::system((nabla_ + " " + a + " > " + dir_.file("one.log") + " 2>&1").c_str());
  }
  std::string nabla_ = std::string(NABLA_BINARY_DIR) + "/nabla";
  tokenizers::testing::TempDir dir_{"dist_train"};
};

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
  // A different global batch cannot continue the data stream: a clear error on every rank.
  const dist::testing::MpiRun bad =
      dist::testing::mpirun(2, nabla_ + " " + args("mix", 4, 30) + " --resume " + dir_.file("mix"));
  EXPECT_NE(bad.status, 0);
  EXPECT_THAT(bad.out, HasSubstr("a global batch of 4"));
  EXPECT_THAT(bad.out, HasSubstr("this run uses 8 (2 rank(s) x 4)"));
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
}

}  // namespace
}  // namespace nabla
