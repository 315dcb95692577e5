// examples/text_completion (the twin of Meta's example_text_completion.py) on stories260K:
// greedy completions continue exactly as llama2.c's run.c does; seeded runs repeat.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;

// Runs build/text_completion with args on one thread (the output does not depend on it);
// stdout only, or stdout and stderr when merge_stderr.
std::string run_example(const std::string& args, bool merge_stderr = false) {
  const std::string cmd = "OMP_NUM_THREADS=1 " + std::string(NABLA_BINARY_DIR) +
                          "/text_completion " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), &pclose);
  std::string out;
  if (!p) return out;
  char buf[4096];
  size_t k = 0;
  while ((k = fread(buf, 1, sizeof buf, p.get())) > 0) out.append(buf, k);
  return out;
}

TEST(TextCompletionExample, GreedyContinuesAsLlama2cAndSeedsRepeat) {
  if (!std::filesystem::exists(std::string(NABLA_BINARY_DIR) + "/text_completion")) {
    GTEST_SKIP() << "example text_completion is not built (NABLA_BUILD_EXAMPLES=OFF)";
  }
  NABLA_REQUIRE_SHARED_DATA(ckpt, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  NABLA_REQUIRE_SHARED_DATA(expected, "stories260K_greedy_once_upon_a_time.txt");
  const std::string base = "--ckpt " + ckpt + " --tokenizer " + tok;
  const std::string greedy = run_example(base + " --temperature 0");
  // "Once upon a time\n> <completion>\n": run.c's greedy text goes on the same way
  const std::string head = "Once upon a time\n> ";
  ASSERT_EQ(greedy.rfind(head, 0), 0u) << greedy;
  const std::string completion = greedy.substr(head.size(), greedy.find('\n', head.size()) -
                                                                head.size());
  EXPECT_GT(completion.size(), 40u);
  EXPECT_EQ(tokenizers::testing::read_file(expected).rfind("Once upon a time" + completion, 0),
            0u);
  EXPECT_EQ(run_example(base + " --seed 7"), run_example(base + " --seed 7"));
  EXPECT_THAT(run_example("--ckpt " + ckpt, true), HasSubstr("--tokenizer are required"));
}

}  // namespace
}  // namespace nabla
