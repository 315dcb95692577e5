// generation on the real stories260K checkpoint through the C++ API: greedy text equals
// llama2.c's run.c output, batched rows equal rows alone, logprobs equal a full forward's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/threads.h"
#include "nabla/generate/generate.h"
#include "nabla/generate/load.h"
#include "nabla/ops/ops.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::generation {
namespace {

using ::testing::HasSubstr;

// One thread: results do not depend on it, and on a loaded machine OpenMP threads waiting for
// each other make these runs take seconds.
class StoriesGenerate : public ::testing::Test {
 protected:
  void SetUp() override { set_num_threads(1); }
  void TearDown() override { set_num_threads(threads_); }
  int threads_ = get_num_threads();
};

TEST_F(StoriesGenerate, GreedyTextCompletionMatchesLlama2cRunC) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  NABLA_REQUIRE_SHARED_DATA(expected, "stories260K_greedy_once_upon_a_time.txt");
  Llama llama = Llama::build(model, tok, 512, 4);
  const std::string prompt = "Once upon a time";
  // run.c -n 256: positions 0..255 are fed, so the sequence holds 257 tokens, BOS included.
  const auto n_prompt = static_cast<int64_t>(llama.tokenizer->encode(prompt).size());
  const std::vector<Completion> c = llama.text_completion(
      {prompt}, {.max_gen_len = 257 - n_prompt, .temperature = 0.0});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(prompt + c[0].generation + "\n", tokenizers::testing::read_file(expected));
  EXPECT_EQ(c[0].pieces.size(), c[0].tokens.size());
}

TEST_F(StoriesGenerate, BatchedRowsEqualEachPromptAlone) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  Llama llama = Llama::build(model, tok, 128, 4);
  const std::vector<std::string> prompts = {"Once upon a time", "", "The little dog ran to the",
                                            "Lily"};
  const GenerateOptions o{.max_gen_len = 40, .temperature = 0.0};
  const std::vector<Completion> batch = llama.text_completion(prompts, o);
  for (size_t b = 0; b < prompts.size(); ++b) {
    const std::vector<Completion> alone = llama.text_completion({prompts[b]}, o);
    EXPECT_EQ(batch[b].tokens, alone[0].tokens) << "prompt '" << prompts[b] << "'";
    EXPECT_EQ(batch[b].generation, alone[0].generation);
  }
  EXPECT_THAT([&] { llama.text_completion({"a", "b", "c", "d", "e"}, o); },
              ::testing::ThrowsMessage<Error>(HasSubstr("exceed max_batch_size 4")));
}

TEST_F(StoriesGenerate, CachedLogprobsEqualAFullForward) {
  NABLA_REQUIRE_SHARED_DATA(model, "stories260K.bin");
  NABLA_REQUIRE_SHARED_DATA(tok, "tok512.bin");
  Llama llama = Llama::build(model, tok, 128, 2);
  GenerateOptions o{.max_gen_len = 30, .temperature = 0.0, .logprobs = true, .echo = true};
  const std::vector<std::vector<int64_t>> prompts = {{1, 403, 407, 261, 378}, {1, 365}};
  const GenerationResult r = llama.generate(prompts, o);
  for (size_t b = 0; b < prompts.size(); ++b) {
    const std::vector<int64_t>& seq = r.tokens[b];
    const Tensor lp = llama.model->forward(tensor(seq).unsqueeze(0)).log_softmax(-1);
    for (size_t p = 1; p < seq.size(); ++p) {
      // the cached decode computes the same sums in another order: 1e-4 absolute
      EXPECT_NEAR(r.logprobs[b][p], lp.at({0, static_cast<int64_t>(p) - 1, seq[p]}), 1e-4)
          << "row " << b << " position " << p;
    }
  }
}

}  // namespace
}  // namespace nabla::generation
