// generate() on a toy CausalLM: batched = alone, cached = recomputed, stop tokens, echo and
// logprobs against log_softmax of a full forward, seeded sampling, limits and errors.
#include "nabla/generate/generate.h"

#include <algorithm>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/ops/ops.h"
#include "nabla/tokenizers/char_tokenizer.h"
#include "tests/generate/toy_lm.h"

namespace nabla::generation {
namespace {

using ::testing::HasSubstr;
using testing::ToyLM;
using Tokens = std::vector<std::vector<int64_t>>;

constexpr int64_t kVocab = 23;

GenerateOptions greedy(int64_t max_gen_len) {
  return {.max_gen_len = max_gen_len, .temperature = 0.0};
}

// Greedy continuation by recomputing the whole sequence each step (no cache).
std::vector<int64_t> naive_greedy(ToyLM& model, std::vector<int64_t> seq, int64_t n) {
  const size_t prompt = seq.size();
  for (int64_t i = 0; i < n; ++i) {
    const Tensor logits = model.forward(tensor(seq).unsqueeze(0));  // [1, T, V]
    seq.push_back(static_cast<int64_t>(logits[0][-1].argmax().item()));
  }
  return {seq.begin() + static_cast<std::ptrdiff_t>(prompt), seq.end()};
}

TEST(Generate, GreedyMatchesRecomputingTheSequence) {
  ToyLM model(kVocab, 8, 64, 1);
  const GenerationResult r = generate(model, {{3, 5, 7}}, greedy(12));
  ASSERT_EQ(r.tokens.size(), 1u);
  EXPECT_EQ(r.tokens[0], naive_greedy(model, {3, 5, 7}, 12));
  EXPECT_TRUE(r.logprobs.empty());
}

TEST(Generate, BatchOfDifferentLengthsEqualsEachAlone) {
  ToyLM model(kVocab, 8, 64, 2);
  const Tokens prompts = {{1, 4, 9, 2, 6, 11, 3}, {1}, {1, 8, 8, 20}, {5, 6}};
  model.calls.clear();
  const GenerationResult batch = generate(model, prompts, greedy(10));
  // prefill of the shortest prompt's length, then one position per step
  ASSERT_FALSE(model.calls.empty());
  EXPECT_EQ(model.calls[0], std::make_pair(int64_t{0}, int64_t{1}));
  for (size_t i = 1; i < model.calls.size(); ++i) EXPECT_EQ(model.calls[i].second, 1);
  for (size_t b = 0; b < prompts.size(); ++b) {
    const GenerationResult alone = generate(model, {prompts[b]}, greedy(10));
    EXPECT_EQ(batch.tokens[b], alone.tokens[0]) << "row " << b;
    EXPECT_EQ(batch.tokens[b].size(), 10u) << "row " << b;
    EXPECT_EQ(alone.tokens[0], naive_greedy(model, prompts[b], 10)) << "row " << b;
  }
}

TEST(Generate, StopTokenCutsEachRowAtItsFirstOccurrence) {
  ToyLM model(kVocab, 8, 64, 3);
  const Tokens prompts = {{2, 3}, {4, 5, 6}, {7}};
  const GenerationResult full = generate(model, prompts, greedy(16));
  const int64_t stop = full.tokens[0][3];  // produced by row 0 at its 4th step
  GenerateOptions o = greedy(16);
  o.stop_tokens = {stop, kVocab + 100};
  const GenerationResult cut = generate(model, prompts, o);
  for (size_t b = 0; b < prompts.size(); ++b) {
    const auto& f = full.tokens[b];
    const auto at = std::find(f.begin(), f.end(), stop);
    EXPECT_EQ(cut.tokens[b], std::vector<int64_t>(f.begin(), at)) << "row " << b;
  }
  EXPECT_LE(cut.tokens[0].size(), 3u);
  // A stop token inside a prompt does not stop its row.
  o.stop_tokens = {prompts[1][1]};
  EXPECT_EQ(generate(model, {prompts[1]}, o).tokens[0].empty(),
            full.tokens[1].front() == prompts[1][1]);
}

TEST(Generate, GenerationEndsWhenEveryRowHasStopped) {
  ToyLM model(kVocab, 8, 64, 3);
  const GenerationResult full = generate(model, {{2, 3}}, greedy(16));
  GenerateOptions o = greedy(16);
  o.stop_tokens = {full.tokens[0][0]};
  model.calls.clear();
  EXPECT_TRUE(generate(model, {{2, 3}}, o).tokens[0].empty());
  EXPECT_EQ(model.calls.size(), 1u);  // the prefill's token stops the only row
}

// log_softmax of a full recomputation: the log-probability of seq[p] given seq[:p].
std::vector<double> reference_logprobs(ToyLM& model, const std::vector<int64_t>& seq) {
  const Tensor lp = model.forward(tensor(seq).unsqueeze(0)).log_softmax(-1);  // [1, T, V]
  std::vector<double> out = {0.0};
  for (size_t p = 1; p < seq.size(); ++p) {
    out.push_back(lp.at({0, static_cast<int64_t>(p) - 1, seq[p]}));
  }
  return out;
}

TEST(Generate, EchoAndLogprobsMatchLogSoftmaxOfAFullForward) {
  ToyLM model(kVocab, 8, 64, 4);
  const Tokens prompts = {{1, 2, 3, 4, 5}, {6, 7}};
  GenerateOptions o = greedy(6);
  o.logprobs = true;
  o.echo = true;
  const GenerationResult r = generate(model, prompts, o);
  for (size_t b = 0; b < prompts.size(); ++b) {
    const auto& seq = r.tokens[b];
    ASSERT_EQ(seq.size(), prompts[b].size() + 6);
    EXPECT_TRUE(std::equal(prompts[b].begin(), prompts[b].end(), seq.begin()));
    ASSERT_EQ(r.logprobs[b].size(), seq.size());
    const std::vector<double> ref = reference_logprobs(model, seq);
    const Tensor lp = model.forward(tensor(seq).unsqueeze(0)).log_softmax(-1);
    for (size_t p = 0; p < seq.size(); ++p) {
      EXPECT_NEAR(r.logprobs[b][p], ref[p], 1e-5) << "row " << b << " position " << p;
      if (p >= prompts[b].size()) {  // a greedy token has the largest log-probability
        const double best = lp[0][static_cast<int64_t>(p) - 1].max().item();
        EXPECT_NEAR(r.logprobs[b][p], best, 1e-5);
      }
    }
  }
  o.echo = false;
  const GenerationResult g = generate(model, prompts, o);
  for (size_t b = 0; b < prompts.size(); ++b) {
    ASSERT_EQ(g.logprobs[b].size(), 6u);
    EXPECT_TRUE(std::equal(g.logprobs[b].begin(), g.logprobs[b].end(),
                           r.logprobs[b].end() - 6));
  }
}

TEST(Generate, EchoWithoutRoomToGenerateScoresThePrompt) {
  ToyLM model(kVocab, 8, 4, 5);
  GenerateOptions o = greedy(10);
  o.logprobs = true;
  o.echo = true;
  const std::vector<int64_t> prompt = {3, 1, 4, 1};  // fills max_seq_len: nothing to generate
  const GenerationResult r = generate(model, {prompt}, o);
  EXPECT_EQ(r.tokens[0], prompt);
  const std::vector<double> ref = reference_logprobs(model, prompt);
  for (size_t p = 0; p < prompt.size(); ++p) EXPECT_NEAR(r.logprobs[0][p], ref[p], 1e-5);
  o.echo = false;
  EXPECT_TRUE(generate(model, {prompt}, o).tokens[0].empty());
}

TEST(Generate, TotalLengthIsCappedByMaxSeqLen) {
  ToyLM model(kVocab, 8, 64, 6);
  GenerateOptions o = greedy(10);
  o.max_seq_len = 8;
  const GenerationResult r = generate(model, {{1, 2, 3, 4, 5}, {1, 2}}, o);
  EXPECT_EQ(r.tokens[0].size(), 3u);  // total_len = min(8, 10 + 5)
  EXPECT_EQ(r.tokens[1].size(), 6u);
  o.max_gen_len = 0;
  EXPECT_TRUE(generate(model, {{1, 2}}, o).tokens[0].empty());
  o.max_gen_len = -1;  // max_seq_len - 1
  EXPECT_EQ(generate(model, {{1}}, o).tokens[0].size(), 7u);
  o.max_gen_len = INT64_MAX;  // no overflow: as long as max_seq_len allows
  EXPECT_EQ(generate(model, {{1, 2}}, o).tokens[0].size(), 6u);
}

TEST(Generate, SeededSamplingIsReproducible) {
  ToyLM model(kVocab, 8, 64, 7);
  const Tokens prompts = {{1, 2}, {3}};
  GenerateOptions o{.max_gen_len = 20, .temperature = 1.0, .top_p = 0.95, .seed = 1234};
  const GenerationResult a = generate(model, prompts, o), b = generate(model, prompts, o);
  EXPECT_EQ(a.tokens, b.tokens);
  o.seed = 1235;
  EXPECT_NE(generate(model, prompts, o).tokens, a.tokens);
  o.seed.reset();  // from the default generator
  manual_seed(99);
  const GenerationResult c = generate(model, prompts, o);
  manual_seed(99);
  EXPECT_EQ(generate(model, prompts, o).tokens, c.tokens);
  // temperature 0 ignores the seed: greedy
  EXPECT_EQ(generate(model, prompts, greedy(20)).tokens[0], naive_greedy(model, {1, 2}, 20));
}

TEST(Generate, StreamsEveryReturnedTokenInOrder) {
  ToyLM model(kVocab, 8, 64, 8);
  const Tokens prompts = {{1, 2, 3}, {4}};
  const GenerationResult full = generate(model, prompts, greedy(9));
  GenerateOptions o = greedy(9);
  o.stop_tokens = {full.tokens[1][4]};
  Tokens streamed(2);
  o.on_token = [&](int64_t row, int64_t tok) { streamed[row].push_back(tok); };
  const GenerationResult r = generate(model, prompts, o);
  EXPECT_EQ(streamed, r.tokens);
}

TEST(Generate, StopStringEndsTheRowAfterTheTokenThatCompletesIt) {
  ToyLM model(kVocab, 8, 64, 9);
  const GenerationResult full = generate(model, {{1, 2}}, greedy(12));
  GenerateOptions o = greedy(12);
  o.decode = [](int64_t, std::span<const int64_t> ids) {
    std::string s;
    for (const int64_t id : ids) s.append(1, '<').append(std::to_string(id)).append(1, '>');
    return s;
  };
  const auto& f = full.tokens[0];
  o.stop = {o.decode(0, std::span<const int64_t>(f.data() + 3, 2))};
  const GenerationResult r = generate(model, {{1, 2}}, o);
  // the first place where f[3], f[4] occur as a pair ends the row, that token included
  size_t end = 1;
  while (end < f.size() && !(f[end - 1] == f[3] && f[end] == f[4])) ++end;
  const auto last = f.begin() + static_cast<std::ptrdiff_t>(end);
  EXPECT_EQ(r.tokens[0], std::vector<int64_t>(f.begin(), last + 1));
}

TEST(Generate, BadInputThrowsClearErrors) {
  ToyLM model(kVocab, 8, 16, 10);
  auto throws = [&](const Tokens& prompts, const GenerateOptions& o, const char* what) {
    EXPECT_THAT([&] { generate(model, prompts, o); },
                ::testing::ThrowsMessage<Error>(HasSubstr(what)));
  };
  throws({}, greedy(4), "no prompts");
  throws({{1, 2}, {}}, greedy(4), "prompt 1 is empty");
  throws({{1, kVocab}}, greedy(4), "token id 23 at position 1, outside the vocabulary [0, 23)");
  throws({{1, -1}}, greedy(4), "token id -1");
  throws({std::vector<int64_t>(17, 1)}, greedy(4), "has 17 tokens, more than max_seq_len 16");
  GenerateOptions o = greedy(4);
  o.max_batch_size = 2;
  throws({{1}, {2}, {3}}, o, "3 prompts exceed max_batch_size 2");
  o = greedy(4);
  o.stop = {"x"};
  throws({{1}}, o, "stop strings need options.decode");
  throws({{1}}, {.temperature = -0.5}, "temperature");
  throws({{1}}, {.max_gen_len = -2}, "max_gen_len");
  // a cache bounds the batch and the length
  models::KVCache cache = model.make_cache(1, 8);
  EXPECT_THAT([&] { generate(model, {{1}, {2}}, greedy(4), &cache); },
              ::testing::ThrowsMessage<Error>(HasSubstr("max_batch_size 1")));
  EXPECT_EQ(generate(model, {{1, 2}}, greedy(20), &cache).tokens[0].size(), 6u);
}

TEST(TextCompletion, EncodesGeneratesAndDecodesAfterThePrompt) {
  ToyLM model(kVocab, 8, 64, 11);
  const auto tok = tokenizers::CharTokenizer::from_corpus("abcdefghijklmnopqrstuvw");
  ASSERT_EQ(tok.vocab_size(), kVocab);
  const std::vector<std::string> prompts = {"abc", "w"};
  const std::vector<Completion> c = text_completion(model, tok, prompts, greedy(8));
  ASSERT_EQ(c.size(), 2u);
  for (size_t b = 0; b < prompts.size(); ++b) {
    const std::vector<int32_t> ids = tok.encode(prompts[b]);
    const GenerationResult r = generate(model, {{ids.begin(), ids.end()}}, greedy(8));
    EXPECT_EQ(c[b].tokens, r.tokens[0]);
    const std::vector<int32_t> gen(r.tokens[0].begin(), r.tokens[0].end());
    EXPECT_EQ(c[b].generation, tok.decode(gen));
    ASSERT_EQ(c[b].pieces.size(), 8u);
    EXPECT_EQ(c[b].pieces[0], tok.decode_piece(ids.back(), gen[0]));
    EXPECT_TRUE(c[b].logprobs.empty());
  }
  GenerateOptions o = greedy(8);
  o.echo = true;
  o.logprobs = true;
  const std::vector<Completion> e = text_completion(model, tok, {"abc"}, o);
  EXPECT_EQ(e[0].generation, "abc" + c[0].generation);
  EXPECT_EQ(e[0].logprobs.size(), 11u);
  // a stop string ends the row and is cut from the text
  o = greedy(8);
  o.stop = {c[0].generation.substr(3, 2)};
  const std::vector<Completion> s = text_completion(model, tok, {"abc"}, o);
  EXPECT_EQ(s[0].generation, c[0].generation.substr(0, c[0].generation.find(o.stop[0])));
  EXPECT_LE(s[0].tokens.size(), 5u);
  o.echo = true;  // a stop string inside the echoed prompt does not cut it
  o.stop = {"b"};
  EXPECT_EQ(text_completion(model, tok, {"abc"}, o)[0].generation.substr(0, 3), "abc");
  // the char tokenizer has no BOS: an empty prompt has no tokens
  EXPECT_THAT([&] { text_completion(model, tok, {"ab", ""}, greedy(2)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("prompt 1 is empty")));
}

}  // namespace
}  // namespace nabla::generation
