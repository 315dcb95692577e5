// `mpirun -np N nabla generate`: the model split over the ranks prints what one process
// prints, from rank 0 alone; a rank count that cannot split the model is a clear error.
// Each rank writes its stdout and stderr to files of its own. Skips without mpirun or data.
#include <cstdlib>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/dist/mpirun_util.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using tokenizers::testing::read_file;

class GenerateDist : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(nabla_)) GTEST_SKIP() << "the nabla binary is not built";
    if (!dist::testing::have_mpirun()) {
      GTEST_SKIP() << "mpirun is not installed (tools/setup.sh installs openmpi-bin)";
    }
  }
  // `mpirun -np np nabla generate args`, rank r's output in out.r and err.r.
  dist::testing::MpiRun run_ranks(int np, const std::string& args) {
    const std::string rank_cmd = "sh -c 'exec env OMP_NUM_THREADS=1 " + nabla_ + " generate " +
                                 args + " > " + dir_.file("out.") + "$OMPI_COMM_WORLD_RANK 2> " +
                                 dir_.file("err.") + "$OMPI_COMM_WORLD_RANK'";
    return dist::testing::mpirun(np, rank_cmd, 60);
  }
  // One process: stdout into out.one, stderr into err.one.
  int run_one(const std::string& args) {
    return std::system(("OMP_NUM_THREADS=1 " + nabla_ + " generate " + args + " > " +
                        dir_.file("out.one") + " 2> " + dir_.file("err.one") + " < /dev/null")
                           .c_str());
  }
  std::string nabla_ = std::string(NABLA_BINARY_DIR) + "/nabla";
  tokenizers::testing::TempDir dir_{"cli_generate_dist"};
};

TEST_F(GenerateDist, TwoRanksPrintWhatOneProcessPrints) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  const std::string args = "--model " + model + " --tokenizer " + tok +
                           " --prompt \"Once upon a time\" --steps 128 --temperature 0";
  ASSERT_EQ(run_one(args), 0) << read_file(dir_.file("err.one"));
  const dist::testing::MpiRun two = run_ranks(2, args);
  ASSERT_EQ(two.status, 0) << two.out << read_file(dir_.file("err.0"));
  EXPECT_THAT(read_file(dir_.file("out.one")), HasSubstr("Once upon a time, there was"));
  EXPECT_EQ(read_file(dir_.file("out.0")), read_file(dir_.file("out.one")));
  EXPECT_THAT(read_file(dir_.file("err.0")),
              HasSubstr("tensor parallel: Transformer split over 2 ranks"));
  EXPECT_THAT(read_file(dir_.file("err.0")), HasSubstr("tok/s"));
  EXPECT_EQ(read_file(dir_.file("out.1")), "");  // rank 0 alone prints
  EXPECT_EQ(read_file(dir_.file("err.1")), "");
}

// Without --seed rank 0 draws one for all; sampling the same logits, the ranks agree, and
// one process given that seed prints the same text.
TEST_F(GenerateDist, SampledTextUsesRankZerosSeed) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  const std::string args = "--model " + model + " --tokenizer " + tok +
                           " --prompt Lily --steps 48 --temperature 0.9";
  const dist::testing::MpiRun two = run_ranks(2, args);
  ASSERT_EQ(two.status, 0) << two.out << read_file(dir_.file("err.0"));
  const std::string err = read_file(dir_.file("err.0"));
  const size_t at = err.find("seed ");
  ASSERT_NE(at, std::string::npos) << err;
  const std::string seed = err.substr(at + 5, err.find('\n', at) - at - 5);
  ASSERT_EQ(run_one(args + " --seed " + seed), 0) << read_file(dir_.file("err.one"));
  EXPECT_EQ(read_file(dir_.file("out.0")), read_file(dir_.file("out.one")));
}

TEST_F(GenerateDist, ThreeRanksCannotSplitFourKvHeads) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  const dist::testing::MpiRun three =
      run_ranks(3, "--model " + model + " --tokenizer " + tok + " --prompt Lily --steps 8");
  EXPECT_NE(three.status, 0);
  EXPECT_NE(three.status, 124) << "the job hung:\n" << three.out;
  // Every rank finds the error; the first to end the job (MPI_Abort) may stop the others
  // before they print it.
  std::string err;
  for (const char* r : {"0", "1", "2"}) err += read_file(dir_.file(std::string("err.") + r));
  EXPECT_THAT(err, HasSubstr("Llama: cannot split the model over 3 ranks: n_kv_heads 4 "
                             "(n_heads 8) is not divisible by 3"))
      << three.out;
  EXPECT_EQ(read_file(dir_.file("out.0")), "");
}

}  // namespace
}  // namespace nabla
