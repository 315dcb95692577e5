// `nabla tokenize` end to end: runs the built binary (NABLA_BINARY_DIR/nabla) through popen.

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/run_command.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;

using testing::CliResult;

// Runs `nabla args < input` and returns the exit status and stdout (stderr goes to stdout
// when merge_stderr).
CliResult run_nabla(const std::string& args, const std::string& input_file, bool merge_stderr = false) {
  return testing::run_command(testing::nabla_program() + " " + args + " < " + input_file +
                              (merge_stderr ? " 2>&1" : " 2>/dev/null"));
}

class CmdTokenize : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(NABLA_BINARY_DIR) + "/nabla")) {
      GTEST_SKIP() << "the nabla binary is not built";
    }
  }
  tokenizers::testing::TempDir dir_{"cli"};
};

TEST_F(CmdTokenize, Gpt2EncodeAndDecode) {
  NABLA_REQUIRE_SHARED_DATA(enc, "gpt2_encoder.json");
  NABLA_REQUIRE_SHARED_DATA(bpe, "gpt2_vocab.bpe");
  const std::string in = dir_.file("in.txt"), ids = dir_.file("ids.txt");
  tokenizers::testing::write_file(in, "Hello, world!");
  const CliResult r = run_nabla("tokenize --encoder " + enc + " --merges " + bpe, in);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "15496 11 995 0\n");  // ids from tests/fixtures/gpt2_tokenizer.json
  tokenizers::testing::write_file(ids, r.out);
  const CliResult d = run_nabla("tokenize --decode --encoder " + enc + " --merges " + bpe, ids);
  EXPECT_EQ(d.status, 0);
  EXPECT_EQ(d.out, "Hello, world!");
}

TEST_F(CmdTokenize, Llama2cRoundTripAndVectors) {
  NABLA_REQUIRE_SHARED_DATA(tok, "llama2_tokenizer.bin");
  const std::string in = dir_.file("in.txt"), ids = dir_.file("ids.txt");
  tokenizers::testing::write_file(in, "I believe the meaning of life is");
  const CliResult r = run_nabla("tokenize --tokenizer " + tok + " --vocab-size 32000", in);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "1 306 4658 278 6593 310 2834 338\n");  // llama2.c test.c
  tokenizers::testing::write_file(ids, r.out);
  const CliResult d = run_nabla("tokenize --decode --tokenizer " + tok, ids);
  EXPECT_EQ(d.out, "I believe the meaning of life is");
}

TEST_F(CmdTokenize, BadArgumentsExitWithOne) {
  const std::string in = dir_.file("in.txt");
  tokenizers::testing::write_file(in, "x");
  const CliResult unknown = run_nabla("tokenize --bogus", in, true);
  EXPECT_EQ(unknown.status, 1);
  EXPECT_THAT(unknown.out, HasSubstr("unknown argument '--bogus'"));
  const CliResult missing = run_nabla("tokenize --tokenizer " + dir_.file("missing.bin"), in, true);
  EXPECT_EQ(missing.status, 1);
  EXPECT_THAT(missing.out, HasSubstr("cannot open"));
  EXPECT_EQ(run_nabla("tokenize --encoder x.json", in).status, 1);  // --merges missing
  const CliResult help = run_nabla("--help", in);
  EXPECT_EQ(help.status, 0);
  EXPECT_THAT(help.out, HasSubstr("tokenize"));
}

}  // namespace
}  // namespace nabla
