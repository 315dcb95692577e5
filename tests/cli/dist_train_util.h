// Shared by the data-parallel `nabla train` and `nabla finetune` tests (fast and slow): their
// datasets and flags, and comparisons of loss curves (metrics JSONL) and final weights.
#pragma once

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nabla/io/safetensors.h"
#include "tests/dist/mpirun_util.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::dist::testing {

using tokenizers::testing::write_file;

// Sums split over ranks round differently from one sum. Most weights then differ by < 1e-6;
// the largest difference is in the key bias (c_attn.bias[C:2C]), whose gradient is zero in
// exact arithmetic, so Adam turns rounding noise into steps of up to lr. Measured on
// gpt2-tiny after 50 steps: 3e-6 at lr 6e-4, 7e-6 at 1e-3, 6e-5 at 3e-3. The fast tests run
// 20 steps at 1e-3, the slow one the 50 steps at nanoGPT's 6e-4.
constexpr double kTol = 1e-5;

struct Metrics {
  std::vector<double> train, val;  // per step; val NaN where none
};

inline Metrics read_metrics(const std::string& path) {
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

inline void expect_same_curve(const Metrics& a, const Metrics& b) {
  ASSERT_EQ(a.train.size(), b.train.size());
  for (size_t i = 0; i < a.train.size(); ++i) {
    EXPECT_NEAR(a.train[i], b.train[i], kTol) << "train loss of step " << i + 1;
    EXPECT_EQ(std::isnan(a.val[i]), std::isnan(b.val[i])) << "step " << i + 1;
    if (!std::isnan(a.val[i])) {
      EXPECT_NEAR(a.val[i], b.val[i], kTol) << "val loss of step " << i + 1;
    }
  }
}

inline void expect_same_weights(const std::string& a_path, const std::string& b_path) {
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
  // The cosine schedule ends at decay_steps whatever --max-steps, so that a run cut short and
  // resumed follows the schedule of one that was not.
  std::string args(const std::string& out, int64_t batch, int64_t steps, int64_t decay_steps = 20,
                   const std::string& lr = "1e-3") {
    return "train --data " + dir_.file("ds") + " --out " + dir_.file(out) +
           " --model gpt2-tiny --block-size 16 --batch-size " + std::to_string(batch) +
           " --max-steps " + std::to_string(steps) + " --lr-decay-steps " +
           std::to_string(decay_steps) + " --warmup-steps 3 --lr " + lr +
           " --eval-every 5 --eval-iters 2 --threads 1 --log-every 1 --metrics " +
           dir_.file(out + ".jsonl");
  }
  int run_one(const std::string& a) {
    return std::system((nabla_ + " " + a + " > " + dir_.file("one.log") + " 2>&1").c_str());
  }
  std::string nabla_ = std::string(NABLA_BINARY_DIR) + "/nabla";
  tokenizers::testing::TempDir dir_{"dist_train"};
};

// LoRA fine-tuning of stories260K (wq,wv, r 4) on 20,000 bytes of tinyshakespeare prepared
// with its tokenizer (`nabla finetune` tests, fast and slow).
class DistFinetune : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(nabla_)) GTEST_SKIP() << "the nabla binary is not built";
    if (!have_mpirun()) {
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
  // schedule ends at decay_steps whatever --max-steps, so a run cut short and resumed matches.
  std::string args(const std::string& out, int64_t batch, int64_t steps,
                   int64_t decay_steps = 8) const {
    return "finetune --base " + model_ + " --data " + dir_.file("data") + " --out " +
           dir_.file(out) + " --lora-targets wq,wv --lora-r 4 --block-size 16 --batch-size " +
           std::to_string(batch) + " --max-steps " + std::to_string(steps) +
           " --lr-decay-steps " + std::to_string(decay_steps) +
           " --warmup-steps 2 --lr 1e-3 --eval-every 4 --eval-iters 2"
           " --threads 1 --metrics " + dir_.file(out + ".jsonl");
  }
  int run_one(const std::string& a) const {
    return std::system(
        (nabla_ + " " + a + " > " + dir_.file("one.log") + " 2>&1 < /dev/null").c_str());
  }
  MpiRun run_two(const std::string& a) const {
    return mpirun(2, nabla_ + " " + a, 60);
  }
  std::string nabla_ = std::string(NABLA_BINARY_DIR) + "/nabla";
  std::string model_;
  tokenizers::testing::TempDir dir_{"dist_finetune"};
};

}  // namespace nabla::dist::testing
