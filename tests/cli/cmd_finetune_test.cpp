// `nabla finetune` end to end: prepares a small slice of tinyshakespeare with stories260K's
// tokenizer, fine-tunes wq,wv for a few steps and loads the written adapter back; bad targets
// fail with the model's Linear names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nabla/lora/adapter_io.h"
#include "nabla/models/llama.h"
#include "tests/io/io_test_util.h"
#include "tests/testing/fixture.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;

struct CliResult {
  int status;
  std::string out;
};

// `nabla args` with stderr merged into the returned output.
CliResult run_nabla(const std::string& args) {
  const std::string cmd =
      "OMP_NUM_THREADS=1 " + std::string(NABLA_BINARY_DIR) + "/nabla " + args + " < /dev/null 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CliResult r{-1, {}};
  if (p == nullptr)
    return r;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(CmdFinetune, WqWvOnStories260KWritesALoadableAdapter) {
  if (!std::filesystem::exists(std::string(NABLA_BINARY_DIR) + "/nabla")) {
    GTEST_SKIP() << "the nabla binary is not built";
  }
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  NABLA_REQUIRE_SHARED_DATA(text, "tinyshakespeare.txt");
  io::testing::TempDir tmp;
  {
    std::ifstream in(text, std::ios::binary);
    std::string head(20000, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(tmp.file("text.txt"), std::ios::binary) << head;
  }
  const CliResult prep = run_nabla(
      "prepare --input " + tmp.file("text.txt") + " --out " + tmp.file("data") + " --tokenizer " +
      tok);
  ASSERT_EQ(prep.status, 0) << prep.out;
  const std::string common = "finetune --base " + model + " --data " + tmp.file("data") +
                             " --out " + tmp.file("adapter") +
                             " --lora-r 8 --lora-alpha 16 --max-steps 3 --batch-size 2"
                             " --block-size 16 --eval-every 0 --eval-iters 1";
  const CliResult r = run_nabla(common + " --lora-targets wq,wv");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("trainable params: 8,960 || all params:"));
  EXPECT_THAT(r.out, HasSubstr("val loss after 3 steps"));
  auto llama = models::Llama::from_llama2c(model);
  const lora::LoraConfig c = lora::load_adapter(*llama, tmp.file("adapter"));
  EXPECT_EQ(c.r, 8);
  EXPECT_EQ(lora::lora_adapters(*llama).size(), 10U);
  EXPECT_TRUE(lora::untrained_adapters(*llama).empty());

  const CliResult bad = run_nabla(common + " --lora-targets q_proj,v_proj");
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.out, HasSubstr("matched no Linear layer; the model's Linear layers are wq, wk"));
}

}  // namespace
}  // namespace nabla
