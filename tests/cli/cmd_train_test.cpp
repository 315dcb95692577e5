// `nabla prepare` and `nabla train` end to end through the built binary: a tiny GPT-2 on a
// character dataset, metrics, stop + resume, and clear errors for bad arguments.

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli/run_command.h"
#include "tests/tokenizers/helpers.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using tokenizers::testing::read_file;
using tokenizers::testing::write_file;

using CliRun = testing::CliResult;  // stdout and stderr

CliRun nabla_cli(const std::string& args) {
  return testing::run_command(testing::nabla_program() + " " + args + " 2>&1");
}

class CmdTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(NABLA_BINARY_DIR) + "/nabla")) {
      GTEST_SKIP() << "the nabla binary is not built";
    }
    std::string text;
    for (int i = 0; i < 200; ++i) text += "to be or not to be, that is the question.\n";
    write_file(dir_.file("in.txt"), text);
  }
  std::string prepare() {
    const CliRun r = nabla_cli("prepare --input " + dir_.file("in.txt") + " --out " +
                            dir_.file("ds") + " --tokenizer char --val-fraction 0.1");
    EXPECT_EQ(r.status, 0) << r.out;
    return dir_.file("ds");
  }
  std::string train_args(const std::string& data, int64_t steps) {
    return "train --data " + data + " --out " + dir_.file("out") + " --model gpt2-tiny" +
           " --batch-size 4 --block-size 16 --max-steps " + std::to_string(steps) +
           " --warmup-steps 2 --lr 1e-2 --eval-every 3 --eval-iters 2 --threads 1 --log-every 1";
  }
  tokenizers::testing::TempDir dir_{"cli_train"};
};

TEST_F(CmdTrain, PrepareWritesTheDataset) {
  const std::string ds = prepare();
  EXPECT_TRUE(std::filesystem::exists(ds + "/train.bin"));
  EXPECT_TRUE(std::filesystem::exists(ds + "/val.bin"));
  EXPECT_TRUE(std::filesystem::exists(ds + "/tokenizer.json"));
  const auto meta = nlohmann::json::parse(read_file(ds + "/meta.json"));
  EXPECT_EQ(meta.at("vocab_size"), 16);  // len(set(text)) in Python
}

TEST_F(CmdTrain, TrainsResumesAndWritesMetrics) {
  const std::string ds = prepare();
  const CliRun a = nabla_cli(train_args(ds, 3) + " --metrics " + dir_.file("m.jsonl"));
  ASSERT_EQ(a.status, 0) << a.out;
  EXPECT_THAT(a.out, HasSubstr("step 3/3 | loss "));
  EXPECT_TRUE(std::filesystem::exists(dir_.file("out/checkpoint/model.safetensors")));
  EXPECT_TRUE(std::filesystem::exists(dir_.file("out/model.safetensors")));
  EXPECT_TRUE(std::filesystem::exists(dir_.file("out/config.json")));
  const CliRun b = nabla_cli(train_args(ds, 6) + " --resume " + dir_.file("out") + " --metrics " +
                          dir_.file("m.jsonl"));
  ASSERT_EQ(b.status, 0) << b.out;
  EXPECT_THAT(b.out, HasSubstr("resumed from"));
  EXPECT_THAT(b.out, HasSubstr("step 6/6"));
  std::ifstream in(dir_.file("m.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("step"), ++n);
    EXPECT_EQ(j.contains("val_loss"), n % 3 == 0);
  }
  EXPECT_EQ(n, 6);
}

TEST_F(CmdTrain, Bf16MixedPrecisionTrains) {
  const std::string ds = prepare();
  const CliRun r = nabla_cli(train_args(ds, 2) + " --dtype bf16");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("step 2/2 | loss "));
  EXPECT_TRUE(std::filesystem::exists(dir_.file("out/model.safetensors")));
}

// Ctrl-C: the handler only sets a flag; the step finishes, a checkpoint is saved, exit 0.
TEST_F(CmdTrain, SigintSavesAndExitsCleanly) {
  const std::string ds = prepare(), metrics = dir_.file("m.jsonl");
  const std::string script = std::string(NABLA_BINARY_DIR) + "/nabla " + train_args(ds, 100000) +
                             " --metrics " + metrics + " > " + dir_.file("log.txt") +
                             " 2>&1 & pid=$!; while [ ! -s " + metrics +
                             " ]; do sleep 0.1; done; kill -INT $pid; wait $pid; echo rc=$?";
  const std::string out = testing::run_command("sh -c '" + script + "'").out;
  EXPECT_THAT(out, HasSubstr("rc=0"));
  const std::string log = read_file(dir_.file("log.txt"));
  EXPECT_THAT(log, HasSubstr("stopped at step"));
  EXPECT_THAT(log, HasSubstr("interrupted at step"));
  const auto j = nlohmann::json::parse(read_file(dir_.file("out/checkpoint/trainer.json")));
  EXPECT_GE(j.at("step").get<int64_t>(), 1);
}

TEST_F(CmdTrain, BadArgumentsAreClearErrors) {
  const std::string ds = prepare();
  CliRun r = nabla_cli("train --data " + ds);
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("--data and --out are required"));
  r = nabla_cli(train_args(ds, 2) + " --bogus 1");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("unknown argument '--bogus'"));
  r = nabla_cli(train_args(ds, 2) + " --lr fast");
  EXPECT_THAT(r.out, HasSubstr("--lr expects a number, got 'fast'"));
  r = nabla_cli(train_args(ds, 2) + " --dtype int8");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("--dtype must be f32 or bf16 for training, got 'int8'"));
  r = nabla_cli(train_args(ds, 2) + " --n-embd 30 --n-head 4");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("n_embd"));
  r = nabla_cli(train_args(ds, 2) + " --block-size 64");  // gpt2-tiny has 32 positions
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("larger than the model's n_positions 32"));
  r = nabla_cli("train --data " + dir_.file("none") + " --out " + dir_.file("o"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("nabla prepare"));
  r = nabla_cli("prepare --input " + dir_.file("missing.txt") + " --out " + dir_.file("x"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("missing.txt"));
}

}  // namespace
}  // namespace nabla
