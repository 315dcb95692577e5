// `nabla generate` end to end: runs the built binary (NABLA_BINARY_DIR/nabla) through popen on
// the real stories260K checkpoint; greedy output must equal llama2.c's run.c byte for byte.

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/rng.h"
#include "nabla/models/gpt2.h"
#include "tests/cli/run_command.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using testing::CliResult;

// Runs `nabla args` and returns the exit status and stdout (stderr goes to stdout when
// merge_stderr, else it is dropped).
CliResult run_nabla(const std::string& args, bool merge_stderr = false) {
  // One thread: the result does not depend on it, and on a loaded machine OpenMP threads that
  // wait for each other make a 256-step run take seconds instead of ~0.5 s.
  return testing::run_command("OMP_NUM_THREADS=1 " + testing::nabla_program() + " " + args +
                              " < /dev/null" + (merge_stderr ? " 2>&1" : " 2>/dev/null"));
}

class CmdGenerate : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(NABLA_BINARY_DIR) + "/nabla")) {
      GTEST_SKIP() << "the nabla binary is not built";
    }
  }
  tokenizers::testing::TempDir dir_{"cli_generate"};
};

TEST_F(CmdGenerate, Stories260kGreedyMatchesLlama2cRunC) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  NABLA_REQUIRE_SHARED_DATA(expected, "stories260K_greedy_once_upon_a_time.txt");
  const CliResult r = run_nabla("generate --model " + model + " --tokenizer " + tok +
                                " --prompt 'Once upon a time' --steps 256 --temperature 0");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, tokenizers::testing::read_file(expected));
}

// Packed weights change the numbers a little, not the story: stories260K's greedy text keeps
// run.c's first sentences in bf16 and int8 (measured: the same 60 steps in both).
TEST_F(CmdGenerate, PackedWeightsKeepTheGreedyStory) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  NABLA_REQUIRE_SHARED_DATA(expected, "stories260K_greedy_once_upon_a_time.txt");
  const std::string want = tokenizers::testing::read_file(expected).substr(0, 100);
  for (const char* dtype : {"bf16", "int8"}) {
    const CliResult r = run_nabla("generate --model " + model + " --tokenizer " + tok +
                                  " --prompt 'Once upon a time' --steps 60 --temperature 0"
                                  " --dtype " + dtype);
    EXPECT_EQ(r.status, 0) << dtype;
    EXPECT_EQ(r.out.substr(0, 100), want) << dtype;
  }
  const CliResult bad = run_nabla("generate --model " + model + " --tokenizer " + tok +
                                  " --prompt x --dtype f16", true);
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.out, HasSubstr("expected f32, bf16 or int8, got 'f16'"));
}

TEST_F(CmdGenerate, BatchedPromptsFileGivesEachPromptsText) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  const std::string prompts = dir_.file("prompts.txt");
  tokenizers::testing::write_file(prompts, "Once upon a time\nThe dog\n\n");
  const std::string args = "generate --model " + model + " --tokenizer " + tok +
                           " --steps 48 --temperature 0";
  const CliResult r = run_nabla(args + " --prompts-file " + prompts);
  EXPECT_EQ(r.status, 0);
  // one batch of three rows prints what each prompt gives alone, one per line
  std::string alone;
  for (const char* p : {"'Once upon a time'", "'The dog'", "''"}) {
    alone += run_nabla(args + " --prompt " + p).out;
  }
  EXPECT_EQ(r.out, alone);
  EXPECT_EQ(run_nabla(args + " --max-batch-size 2 --prompts-file " + prompts).out, alone);
}

TEST_F(CmdGenerate, SeededSamplingIsReproducibleAndReportsSpeed) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  const std::string args = "generate --model " + model + " --tokenizer " + tok +
                           " --prompt 'Lily' --steps 48 --temperature 0.8 --top-p 0.9 --seed 42";
  const CliResult a = run_nabla(args), b = run_nabla(args);
  EXPECT_EQ(a.status, 0);
  EXPECT_EQ(a.out, b.out);
  EXPECT_THAT(a.out, StartsWith("Lily"));
  EXPECT_NE(run_nabla(args + " --top-k 5 --seed 43").out, "");
  const CliResult speed = run_nabla(args, true);
  EXPECT_THAT(speed.out, HasSubstr("tok/s"));
}

TEST_F(CmdGenerate, Gpt2FolderWithGpt2Tokenizer) {
  NABLA_REQUIRE_SHARED_DATA(enc, "gpt2_encoder.json");
  NABLA_REQUIRE_SHARED_DATA(bpe, "gpt2_vocab.bpe");
  const std::string tok = dir_.file("gpt2_tok"), model = dir_.file("gpt2_model");
  std::filesystem::create_directories(tok);
  std::filesystem::create_symlink(enc, tok + "/encoder.json");
  std::filesystem::create_symlink(bpe, tok + "/vocab.bpe");
  manual_seed(5);
  models::Gpt2Config config{.vocab_size = 50257, .n_positions = 64, .n_embd = 16, .n_layer = 1,
                            .n_head = 2, .embd_pdrop = 0, .attn_pdrop = 0, .resid_pdrop = 0};
  models::Gpt2(config).save_pretrained(model);
  const std::string args = "generate --model " + model + " --tokenizer " + tok +
                           " --steps 12 --temperature 0";
  const CliResult r = run_nabla(args + " --prompt 'Hello, world'");
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, StartsWith("Hello, world"));
  EXPECT_GT(r.out.size(), std::string("Hello, world\n").size());
  // an empty prompt starts from <|endoftext|>, which is not printed
  const CliResult empty = run_nabla(args + " --prompt ''");
  EXPECT_EQ(empty.status, 0);
  EXPECT_THAT(empty.out, ::testing::Not(HasSubstr("<|endoftext|>")));
}

TEST_F(CmdGenerate, BadArgumentsExitWithOne) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  const std::string base = "generate --model " + model + " --tokenizer " + tok;
  auto fails = [&](const std::string& args, const std::string& what) {
    const CliResult r = run_nabla(args, true);
    EXPECT_EQ(r.status, 1) << args;
    EXPECT_THAT(r.out, HasSubstr(what)) << args;
  };
  fails("generate --bogus", "unknown argument '--bogus'");
  fails("generate --prompt x", "--model and --tokenizer are required");
  fails(base, "exactly one of --prompt and --prompts-file");
  fails(base + " --prompt x --steps many", "--steps expects a number, got 'many'");
  fails(base + " --prompt x --temperature -1", "temperature");
  fails(base + " --prompt x --top-p 2", "top_p");
  fails(base + " --prompts-file " + dir_.file("missing.txt"), "cannot open");
  fails("generate --model " + dir_.file("missing.bin") + " --tokenizer " + tok + " --prompt x",
        "missing.bin");
  fails(base + " --prompt x --steps", "--steps needs a value");
  const CliResult help = run_nabla("generate --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_THAT(help.out, HasSubstr("--steps"));
}

}  // namespace
}  // namespace nabla
