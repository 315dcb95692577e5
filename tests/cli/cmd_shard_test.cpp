// `nabla shard` end to end on stories260K (8 heads on 4 key/value heads, a tied head): one
// process writes 2 shards, 2 ranks under mpirun write 2 shards, and `nabla generate` reads
// them back on 1 and on 4 ranks with the greedy text of the original checkpoint. Also the
// flag errors. Skips without the binary, mpirun (for the mpirun tests) or the data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/cli/run_command.h"
#include "tests/dist/mpirun_util.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla {
namespace {

using testing::CliResult;
using ::testing::HasSubstr;
using tokenizers::testing::read_file;

// `nabla args`: stdout, and stderr too unless drop_stderr (generate's seed and speeds).
CliResult run_nabla(const std::string& args, bool drop_stderr = false) {
  return testing::run_command(
      "OMP_NUM_THREADS=1 " + testing::nabla_program() + " " + args + " < /dev/null" +
      (drop_stderr ? " 2>/dev/null" : " 2>&1"));
}

class CmdShard : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(testing::nabla_program())) {
      GTEST_SKIP() << "the nabla binary is not built";
    }
  }
  // `mpirun -np np nabla args`, rank r's stdout in out.r and stderr in err.r.
  dist::testing::MpiRun run_ranks(int np, const std::string& args) {
    const std::string rank_cmd = "sh -c 'exec env OMP_NUM_THREADS=1 " + testing::nabla_program() +
                                 " " + args + " > " + dir_.file("out.") +
                                 "$OMPI_COMM_WORLD_RANK 2> " + dir_.file("err.") +
                                 "$OMPI_COMM_WORLD_RANK'";
    return dist::testing::mpirun(np, rank_cmd, 60);
  }
  static std::string generate_args(const std::string& model, const std::string& tok) {
    return "generate --model " + model + " --tokenizer " + tok +
           " --prompt \"Once upon a time\" --steps 64 --temperature 0";
  }
  tokenizers::testing::TempDir dir_{"cli_shard"};
};

TEST_F(CmdShard, FlagErrorsNameTheFlag) {
  const auto expect_error = [](const std::string& args, const std::string& what) {
    const CliResult r = run_nabla("shard " + args);
    EXPECT_EQ(r.status, 1) << args;
    EXPECT_THAT(r.out, HasSubstr(what)) << args;
  };
  expect_error("", "shard: --model and --out are required");
  expect_error("--model m --out d --shards 0", "--shards must be in [1, 4096], got 0");
  expect_error("--model m --out d --shards two", "--shards expects an integer, got 'two'");
  expect_error("--model m --out d --colour", "unknown argument '--colour'");
  expect_error("--model m --out", "--out needs a value");
  expect_error("--model /no/such/model --out d --shards 2", "/no/such/model");
  const CliResult help = run_nabla("shard --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_THAT(help.out, HasSubstr("model-tp-0000R-of-0000N.safetensors"));
}

TEST_F(CmdShard, OneProcessWritesShardsThatGenerateReads) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  const std::string out = dir_.file("tp2");
  const CliResult w = run_nabla("shard --model " + model + " --shards 2 --out " + out);
  ASSERT_EQ(w.status, 0) << w.out;
  EXPECT_THAT(w.out, HasSubstr("wrote Transformer as 2 tensor-parallel shards to " + out));
  const CliResult want = run_nabla(generate_args(model, tok), true);
  ASSERT_EQ(want.status, 0) << want.out;
  EXPECT_EQ(run_nabla(generate_args(out, tok), true).out, want.out);
  const CliResult three = run_nabla("shard --model " + model + " --shards 3 --out " + out);
  EXPECT_EQ(three.status, 1);
  EXPECT_THAT(three.out, HasSubstr("cannot split the model over 3 ranks: n_kv_heads 4"));
  EXPECT_EQ(run_nabla(generate_args(out, tok), true).status, 0);  // the old checkpoint is intact
}

// The acceptance test: a checkpoint written by 2 ranks loads on 1 and on 4 ranks.
TEST_F(CmdShard, TwoRanksWriteOneAndFourRanksRead) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  if (!dist::testing::have_mpirun()) {
    GTEST_SKIP() << "mpirun is not installed (tools/setup.sh installs openmpi-bin)";
  }
  const std::string out = dir_.file("tp2");
  const dist::testing::MpiRun w = run_ranks(2, "shard --model " + model + " --out " + out);
  ASSERT_EQ(w.status, 0) << w.out << read_file(dir_.file("err.0"));
  EXPECT_THAT(
      read_file(dir_.file("out.0")), HasSubstr("wrote Transformer as 2 tensor-parallel shards"));
  EXPECT_EQ(read_file(dir_.file("out.1")), "");
  const CliResult want = run_nabla(generate_args(model, tok), true);
  ASSERT_EQ(want.status, 0) << want.out;
  EXPECT_THAT(want.out, HasSubstr("Once upon a time"));
  EXPECT_EQ(run_nabla(generate_args(out, tok), true).out, want.out);  // one process, no MPI
  const dist::testing::MpiRun four = run_ranks(4, generate_args(out, tok));
  ASSERT_EQ(four.status, 0) << four.out << read_file(dir_.file("err.0"));
  EXPECT_EQ(read_file(dir_.file("out.0")), want.out);
  EXPECT_THAT(
      read_file(dir_.file("err.0")), HasSubstr("tensor parallel: Transformer split over 4 ranks"));
}

TEST_F(CmdShard, ShardCountMustMatchTheRanks) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  if (!dist::testing::have_mpirun()) {
    GTEST_SKIP() << "mpirun is not installed (tools/setup.sh installs openmpi-bin)";
  }
  const dist::testing::MpiRun r =
      run_ranks(2, "shard --model " + model + " --shards 4 --out " + dir_.file("tp"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.status, 124) << "the job hung:\n" << r.out;
  EXPECT_THAT(
      read_file(dir_.file("err.0")) + read_file(dir_.file("err.1")),
      HasSubstr("shard: --shards 4 under mpirun -np 2"));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("tp")));
}

}  // namespace
}  // namespace nabla
