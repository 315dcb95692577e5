// load_causal_lm's format detection (llm.c and Hugging Face GPT-2, llama2.c Llama) and
// generation over the real models' KV caches: batched rows equal each prompt alone.
#include "nabla/generate/load.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/threads.h"
#include "nabla/generate/generate.h"
#include "nabla/models/gpt2.h"
#include "nabla/models/llama.h"
#include "nabla/ops/ops.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::generation {
namespace {

using ::testing::HasSubstr;

// One thread: results do not depend on it, and on a loaded machine OpenMP threads waiting for
// each other make these small models take seconds.
class LoadCausalLm : public ::testing::Test {
 protected:
  void SetUp() override { set_num_threads(1); }
  void TearDown() override { set_num_threads(threads_); }
  int threads_ = get_num_threads();
};

std::shared_ptr<models::Gpt2> tiny_gpt2() {
  manual_seed(3);
  auto m = std::make_shared<models::Gpt2>(models::Gpt2Config::preset("gpt2-tiny"));
  m->eval();
  return m;
}

void expect_batched_equals_alone(models::CausalLM& model,
                                 const std::vector<std::vector<int64_t>>& prompts) {
  const GenerateOptions o{.max_gen_len = 9, .temperature = 0.0};
  const GenerationResult batch = generate(model, prompts, o);
  for (size_t b = 0; b < prompts.size(); ++b) {
    EXPECT_EQ(batch.tokens[b], generate(model, {prompts[b]}, o).tokens[0]) << "row " << b;
    EXPECT_EQ(batch.tokens[b].size(), 9u);
  }
}

TEST_F(LoadCausalLm, DetectsLlmcAndHuggingFaceGpt2) {
  tokenizers::testing::TempDir dir("load_gpt2");
  const auto ref = tiny_gpt2();
  ref->save_llmc(dir.file("tiny.bin"));
  ref->save_pretrained(dir.file("hf"));
  const Tensor tokens = tensor({{1, 5, 9, 2}});
  const Tensor expected = ref->forward(tokens);
  for (const std::string& path : {dir.file("tiny.bin"), dir.file("hf")}) {
    const std::shared_ptr<models::CausalLM> m = load_causal_lm(path);
    ASSERT_NE(dynamic_cast<models::Gpt2*>(m.get()), nullptr) << path;
    EXPECT_FALSE(m->is_training());
    EXPECT_TRUE(testing::all_close(m->forward(tokens), expected, 1e-6, 1e-6)) << path;
  }
}

TEST_F(LoadCausalLm, Gpt2BatchedGenerationEqualsEachPromptAlone) {
  const auto model = tiny_gpt2();
  expect_batched_equals_alone(*model, {{1, 2, 3, 4, 5, 6}, {7}, {8, 9, 10}});
}

TEST_F(LoadCausalLm, DetectsLlama2cAndGeneratesBatchedAsAlone) {
  NABLA_REQUIRE_SHARED_DATA(path, "stories260K.bin");
  const std::shared_ptr<models::CausalLM> m = load_causal_lm(path, 64);
  ASSERT_NE(dynamic_cast<models::Llama*>(m.get()), nullptr);
  EXPECT_EQ(m->max_seq_len(), 64);
  expect_batched_equals_alone(*m, {{1, 403, 407, 261, 378}, {1}, {1, 365, 300}});
}

TEST_F(LoadCausalLm, BadPathsThrowNamingThem) {
  tokenizers::testing::TempDir dir("load_bad");
  EXPECT_THAT([&] { load_causal_lm(dir.file("missing.bin")); },
              ::testing::ThrowsMessage<IoError>(HasSubstr("missing.bin")));
  EXPECT_THAT([&] { load_causal_lm(dir.file("")); },
              ::testing::ThrowsMessage<IoError>(HasSubstr("without params.json")));
  tokenizers::testing::write_file(dir.file("junk.bin"), "not a checkpoint");
  EXPECT_THROW(load_causal_lm(dir.file("junk.bin")), IoError);
}

}  // namespace
}  // namespace nabla::generation
