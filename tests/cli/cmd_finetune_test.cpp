// `nabla finetune` end to end: prepares a small slice of tinyshakespeare with stories260K's
// tokenizer, fine-tunes wq,wv for a few steps, loads the written adapter back and generates
// with it (`nabla generate --lora`); bad targets fail with the model's Linear names; adapter-only
// checkpoints resume bitwise exactly and refuse other --lora-* flags.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "nabla/lora/adapter_io.h"
#include "nabla/models/llama.h"
#include "tests/cli/run_command.h"
#include "tests/io/io_test_util.h"
#include "tests/testing/fixture.h"

namespace nabla {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

using testing::CliResult;

// `nabla args` with stderr merged into the returned output.
CliResult run_nabla(const std::string& args) {
  return testing::run_command("OMP_NUM_THREADS=1 " + testing::nabla_program() + " " + args +
                              " < /dev/null 2>&1");
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// train_loss of every line of a metrics file, in order.
std::vector<double> train_losses(const std::string& path) {
  std::ifstream in(path);
  std::vector<double> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line).at("train_loss"));
  return out;
}

// stories260K with a 20,000-byte slice of tinyshakespeare prepared with its tokenizer.
class CmdFinetune : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(NABLA_BINARY_DIR) + "/nabla")) {
      GTEST_SKIP() << "the nabla binary is not built";
    }
    NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
    NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
    NABLA_REQUIRE_SHARED_DATA(text, "tinyshakespeare.txt");
    model_ = model;
    tok_ = tok;
    std::ifstream in(text, std::ios::binary);
    std::string head(20000, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(tmp_.file("text.txt"), std::ios::binary) << head;
    const CliResult prep = run_nabla(
        "prepare --input " + tmp_.file("text.txt") + " --out " + tmp_.file("data") +
        " --tokenizer " + tok_);
    ASSERT_EQ(prep.status, 0) << prep.out;
  }

  /// finetune with wq,wv, r 8, alpha 16 on small batches, writing to out.
  std::string finetune(const std::string& out, const std::string& extra) const {
    return "finetune --base " + model_ + " --data " + tmp_.file("data") + " --out " + out +
           " --lora-r 8 --lora-alpha 16 --batch-size 2 --block-size 16 --eval-every 0"
           " --eval-iters 1 " +
           extra;
  }

  io::testing::TempDir tmp_;
  std::string model_, tok_;
};

TEST_F(CmdFinetune, WqWvOnStories260KWritesALoadableAdapter) {
  const std::string common = finetune(tmp_.file("adapter"), "--max-steps 3");
  const CliResult r = run_nabla(common + " --lora-targets wq,wv");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("trainable params: 8,960 || all params:"));
  EXPECT_THAT(r.out, HasSubstr("done at step 3: val loss"));
  EXPECT_THAT(r.out, Not(HasSubstr("warning")));
  auto llama = models::Llama::from_llama2c(model_);
  const lora::LoraConfig c = lora::load_adapter(*llama, tmp_.file("adapter"));
  EXPECT_EQ(c.r, 8);
  EXPECT_EQ(lora::lora_adapters(*llama).size(), 10U);
  EXPECT_TRUE(lora::untrained_adapters(*llama).empty());

  // The adapter on top of the base in `nabla generate`; a folder without one is an error.
  const std::string gen = "generate --model " + model_ + " --tokenizer " + tok_ +
                          " --prompt 'Once upon a time' --steps 20 --temperature 0 --seed 1";
  const CliResult with = run_nabla(gen + " --lora " + tmp_.file("adapter"));
  EXPECT_EQ(with.status, 0) << with.out;
  EXPECT_THAT(with.out, HasSubstr("Once upon a time"));
  const CliResult missing = run_nabla(gen + " --lora " + tmp_.file("data"));
  EXPECT_EQ(missing.status, 1);
  EXPECT_THAT(missing.out, HasSubstr("no adapter_config.json in"));

  const CliResult bad = run_nabla(common + " --lora-targets q_proj,v_proj");
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.out, HasSubstr("matched no Linear layer; the model's Linear layers are wq, wk"));
}

// 6 steps in one run equal 3 steps + checkpoint + a new process's --resume + 3 steps: the same
// losses and a byte-identical adapter, with dropout on (the generator's state is restored).
TEST_F(CmdFinetune, ResumeContinuesBitwiseExactly) {
  const std::string flags =
      "--lora-targets wq,wv --lora-dropout 0.1 --lr-decay-steps 6 --warmup-steps 1";
  const CliResult a = run_nabla(
      finetune(tmp_.file("a"), flags + " --max-steps 6 --metrics " + tmp_.file("a.jsonl")));
  ASSERT_EQ(a.status, 0) << a.out;
  const CliResult b1 = run_nabla(
      finetune(tmp_.file("b"), flags + " --max-steps 3 --metrics " + tmp_.file("b.jsonl")));
  ASSERT_EQ(b1.status, 0) << b1.out;
  // The checkpoint holds the adapter (a PEFT folder itself) and its optimizer state, not the
  // frozen base: 8,960 floats, not 260K.
  const std::string ck = tmp_.file("b/checkpoint");
  for (const char* f :
       {"adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors",
        "trainer.json"}) {
    EXPECT_TRUE(std::filesystem::exists(ck + "/" + f)) << f;
  }
  EXPECT_FALSE(std::filesystem::exists(ck + "/model.safetensors"));
  EXPECT_LT(std::filesystem::file_size(ck + "/adapter_model.safetensors"), 40000U);
  const CliResult b2 = run_nabla(finetune(
      tmp_.file("b"),
      flags + " --max-steps 6 --resume " + tmp_.file("b") + " --metrics " + tmp_.file("b.jsonl")));
  ASSERT_EQ(b2.status, 0) << b2.out;
  EXPECT_THAT(b2.out, HasSubstr("resumed from " + tmp_.file("b") + " at step 3"));
  const std::vector<double> want = train_losses(tmp_.file("a.jsonl"));
  ASSERT_EQ(want.size(), 6U);
  EXPECT_EQ(train_losses(tmp_.file("b.jsonl")), want);
  const std::string adapter = "/adapter_model.safetensors";
  EXPECT_EQ(read_bytes(tmp_.file("b") + adapter), read_bytes(tmp_.file("a") + adapter));
  EXPECT_EQ(
      read_bytes(tmp_.file("b/checkpoint/optimizer.safetensors")),
      read_bytes(tmp_.file("a/checkpoint/optimizer.safetensors")));
}

TEST_F(CmdFinetune, ResumeWithOtherLoraFlagsFails) {
  const CliResult a = run_nabla(finetune(tmp_.file("a"), "--lora-targets wq,wv --max-steps 1"));
  ASSERT_EQ(a.status, 0) << a.out;
  const std::string resume = " --max-steps 2 --resume " + tmp_.file("a");
  const CliResult rank =
      run_nabla(finetune(tmp_.file("a"), "--lora-targets wq,wv --lora-r 4" + resume));
  EXPECT_EQ(rank.status, 1);
  EXPECT_THAT(
      rank.out, AllOf(
                    HasSubstr(
                        "cannot resume: the checkpoint's adapter (" + tmp_.file("a") +
                        "/checkpoint/adapter_config.json) has r = 8"),
                    HasSubstr("this run has --lora-r 4")));
  const CliResult targets = run_nabla(finetune(tmp_.file("a"), "--lora-targets wq" + resume));
  EXPECT_EQ(targets.status, 1);
  EXPECT_THAT(targets.out, HasSubstr("target_modules 'wq,wv' (10 modules)"));
  const CliResult none =
      run_nabla(finetune(tmp_.file("a"), "--lora-targets wq,wv --resume " + tmp_.file("data")));
  EXPECT_EQ(none.status, 1);
  EXPECT_THAT(none.out, HasSubstr("no trainer.json"));
}

TEST_F(CmdFinetune, BadFlagsAreErrors) {
  const std::string out = tmp_.file("out");
  for (const auto& [extra, what] : std::vector<std::pair<std::string, std::string>>{
           {"--lora-targets wq --lora-r 0", "apply_lora: r must be > 0, got 0"},
           {"--lora-targets wq --lora-dropout 1", "lora_dropout must be in [0, 1), got 1"},
           {"--lora-targets wq --sample-every 5", "--sample-every is not supported"},
           {"--lora-targets wq --lr fast", "--lr expects a number, got 'fast'"},
           {"--lora-targets wq --bogus 1", "unknown flag --bogus"},
           {"--max-steps 1", "--lora-targets are required"}}) {
    const CliResult r = run_nabla(finetune(out, extra));
    EXPECT_EQ(r.status, 1) << extra;
    EXPECT_THAT(r.out, HasSubstr(what)) << extra;
  }
  EXPECT_FALSE(std::filesystem::exists(out + "/adapter_model.safetensors"));
}

}  // namespace
}  // namespace nabla
