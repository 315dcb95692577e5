// stories260K + tok512, prompt "Once upon a time", greedy, 256 positions counted from BOS:
// exactly the text llama2.c's run.c printed (../shared/data/README.md).
#include <gtest/gtest.h>

#include "../testing/fixture.h"
#include "llama_test_util.h"

namespace nabla::models {
namespace {

TEST(LlamaSlow, Stories260KGreedyMatchesRunC) {
  NABLA_REQUIRE_SHARED_DATA(model_path, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok_path, "tok512.bin");
  NABLA_REQUIRE_SHARED_DATA(expected_path, "stories260K_greedy_once_upon_a_time.txt");
  auto model = Llama::from_llama2c(model_path);
  const auto tok = tokenizers::Llama2cTokenizer::load(tok_path, 512);
  EXPECT_EQ(greedy_run_c(*model, tok, "Once upon a time", 256) + "\n", read_text(expected_path));
}

}  // namespace
}  // namespace nabla::models
