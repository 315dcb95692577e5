// generate() and text_completion(): Meta's llama/generation.py loop over a models::CausalLM.
// Rows are [total_len] token vectors padded with -1; position p of row b is produced by the
// step with cur_pos == p, whose forward covers positions [prev_pos, cur_pos).
#include "nabla/generate/generate.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/error.h"
#include "nabla/ops/creation.h"

namespace nabla::generation {
namespace {

struct Plan {
  int64_t B = 0, V = 0, min_len = 0, max_len = 0, total_len = 0, max_gen_len = 0;
};

// The state of one row: tokens [total_len], logprobs [total_len] (when asked).
struct Row {
  std::vector<int64_t> tokens;
  std::vector<float> logprobs;
  int64_t prompt_len = 0;
  int64_t end = 0;  // one past the last position that will be returned
  bool done = false;
};

Plan make_plan(const models::CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
               const GenerateOptions& o, const models::KVCache* cache) {
  Plan p;
  p.B = static_cast<int64_t>(prompts.size());
  p.V = model.vocab_size();
  NABLA_CHECK(p.B > 0, "generate: no prompts (prompt_tokens is empty)");
  int64_t max_batch = o.max_batch_size > 0 ? o.max_batch_size : (cache ? cache->max_batch : p.B);
  int64_t max_seq = model.max_seq_len();
  if (o.max_seq_len > 0) max_seq = std::min(max_seq, o.max_seq_len);
  if (cache != nullptr) {
    max_batch = std::min(max_batch, cache->max_batch);
    max_seq = std::min(max_seq, cache->max_seq);
  }
  NABLA_CHECK(p.B <= max_batch, "generate: ", p.B, " prompts exceed max_batch_size ", max_batch);
  p.min_len = INT64_MAX;
  for (size_t b = 0; b < prompts.size(); ++b) {
    const auto len = static_cast<int64_t>(prompts[b].size());
    NABLA_CHECK(len > 0, "generate: prompt ", b, " is empty (it needs at least one token, "
                "e.g. BOS)");
    NABLA_CHECK(len <= max_seq, "generate: prompt ", b, " has ", len,
                " tokens, more than max_seq_len ", max_seq);
    for (size_t i = 0; i < prompts[b].size(); ++i) {
      NABLA_CHECK(prompts[b][i] >= 0 && prompts[b][i] < p.V, "generate: prompt ", b,
                  " holds token id ", prompts[b][i], " at position ", i,
                  ", outside the vocabulary [0, ", p.V, ")");
    }
    p.min_len = std::min(p.min_len, len);
    p.max_len = std::max(p.max_len, len);
  }
  // Any length past max_seq_len behaves the same; clamping keeps the sums below from overflowing.
  p.max_gen_len = o.max_gen_len >= 0 ? std::min(o.max_gen_len, max_seq) : max_seq - 1;
  NABLA_CHECK(o.max_gen_len >= -1, "generate: max_gen_len must be >= 0 (or -1 for "
              "max_seq_len - 1), got ", o.max_gen_len);
  p.total_len = std::min(max_seq, p.max_gen_len + p.max_len);
  NABLA_CHECK(o.stop.empty() || o.decode, "generate: stop strings need options.decode");
  validate(o.sampling());
  return p;
}

uint64_t sampler_seed(const GenerateOptions& o) {
  if (o.seed) return *o.seed;
  Generator& g = default_generator();
  const std::array<uint32_t, 4> w = philox4x32(g.seed(), g.advance(1));
  return (uint64_t{w[0]} << 32) | w[1];
}

// tokens[:, from:to] as an int64 [B, to - from] tensor.
Tensor token_slice(const std::vector<Row>& rows, int64_t from, int64_t to) {
  const auto B = static_cast<int64_t>(rows.size());
  Tensor t = empty({B, to - from}, kInt64);
  int64_t* dst = t.data<int64_t>();
  for (const Row& r : rows) dst = std::copy(r.tokens.begin() + from, r.tokens.begin() + to, dst);
  return t;
}

// log_softmax(x)[target] for one row of logits, in double.
float token_logprob(const float* x, int64_t V, int64_t target) {
  const float mx = *std::max_element(x, x + V);
  double sum = 0.0;
  for (int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(x[i]) - mx);
  return static_cast<float>(static_cast<double>(x[target]) - mx - std::log(sum));
}

// Log-probabilities of positions prev_pos + 1 .. prev_pos + T from logits [B, T, V], for the
// positions a row will return.
void record_logprobs(std::vector<Row>& rows, const Tensor& logits, int64_t prev_pos,
                     const GenerateOptions& o) {
  const int64_t T = logits.size(1), V = logits.size(2);
  const float* x = logits.data<float>();
  for (size_t b = 0; b < rows.size(); ++b) {
    Row& r = rows[b];
    if (r.done) continue;
    const int64_t first = o.echo ? 1 : r.prompt_len;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t pos = prev_pos + 1 + t;
      if (pos < first || pos >= static_cast<int64_t>(r.tokens.size())) continue;
      r.logprobs[pos] = token_logprob(x + (static_cast<int64_t>(b) * T + t) * V, V, r.tokens[pos]);
    }
  }
}

// Whether the row's generated text contains a stop string.
bool hits_stop_string(const Row& r, int64_t b, int64_t upto, const GenerateOptions& o) {
  if (o.stop.empty()) return false;
  const std::string text = o.decode(b, std::span<const int64_t>(
      r.tokens.data() + r.prompt_len, static_cast<size_t>(upto - r.prompt_len)));
  return std::any_of(o.stop.begin(), o.stop.end(), [&](const std::string& s) {
    return !s.empty() && text.find(s) != std::string::npos;
  });
}

// After position cur_pos of row b is placed: a generated token either stops the row or is
// returned (streamed, then checked against the stop strings and max_gen_len).
void advance_row(Row& r, int64_t b, int64_t cur_pos, const Plan& p, const GenerateOptions& o) {
  if (r.done) return;
  if (cur_pos >= r.prompt_len + p.max_gen_len) {  // max_gen_len 0: echo's prompt scores only
    r.done = true;
    return;
  }
  if (cur_pos >= r.prompt_len) {
    const int64_t tok = r.tokens[cur_pos];
    if (std::find(o.stop_tokens.begin(), o.stop_tokens.end(), tok) != o.stop_tokens.end()) {
      r.done = true;
      return;
    }
    r.end = cur_pos + 1;
    if (o.on_token) o.on_token(b, tok);
    if (hits_stop_string(r, b, r.end, o)) r.done = true;
  }
  if (cur_pos + 1 >= r.prompt_len + p.max_gen_len) r.done = true;
}

GenerationResult collect(std::vector<Row>& rows, const GenerateOptions& o) {
  GenerationResult res;
  for (Row& r : rows) {
    const int64_t start = o.echo ? 0 : r.prompt_len;
    res.tokens.emplace_back(r.tokens.begin() + start, r.tokens.begin() + r.end);
    if (o.logprobs) {
      res.logprobs.emplace_back(r.logprobs.begin() + start, r.logprobs.begin() + r.end);
    }
  }
  return res;
}

}  // namespace

GenerationResult generate(models::CausalLM& model,
                          const std::vector<std::vector<int64_t>>& prompt_tokens,
                          const GenerateOptions& o, models::KVCache* cache) {
  const Plan p = make_plan(model, prompt_tokens, o, cache);
  NoGradGuard no_grad;
  std::vector<Row> rows(static_cast<size_t>(p.B));
  for (int64_t b = 0; b < p.B; ++b) {
    Row& r = rows[b];
    r.prompt_len = static_cast<int64_t>(prompt_tokens[b].size());
    r.tokens.assign(static_cast<size_t>(p.total_len), -1);
    std::copy(prompt_tokens[b].begin(), prompt_tokens[b].end(), r.tokens.begin());
    if (o.logprobs) r.logprobs.assign(static_cast<size_t>(p.total_len), 0.0f);
    r.end = r.prompt_len;
    r.done = p.max_gen_len == 0 && !(o.logprobs && o.echo);
  }
  models::KVCache own;
  if (cache == nullptr) {
    own = model.make_cache(p.B, p.total_len);
    cache = &own;
  }
  auto forward = [&](int64_t from, int64_t to) {
    Tensor logits = model.forward(token_slice(rows, from, to), from, cache);
    NABLA_CHECK_SHAPE(logits.dim() == 3 && logits.size(0) == p.B && logits.size(1) == to - from &&
                          logits.size(2) == p.V && logits.dtype() == DType::F32,
                      "generate: the model returned logits ", logits.describe(), ", expected [",
                      p.B, ", ", to - from, ", ", p.V, "] float32");
    return logits.contiguous();
  };
  if (p.min_len == p.total_len && o.logprobs && o.echo) {
    record_logprobs(rows, forward(0, p.total_len), 0, o);
  }
  Generator gen(sampler_seed(o));
  const SamplingOptions sampling = o.sampling();
  int64_t prev_pos = 0;
  for (int64_t cur_pos = p.min_len; cur_pos < p.total_len; ++cur_pos) {
    if (std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.done; })) break;
    const Tensor logits = forward(prev_pos, cur_pos);  // [B, T, V]
    std::vector<std::vector<int64_t>> contexts;
    if (sampling.repetition_penalty != 1.0) {
      for (const Row& r : rows) contexts.emplace_back(r.tokens.begin(), r.tokens.begin() + cur_pos);
    }
    const Tensor next = sample(logits.select(1, cur_pos - prev_pos - 1), sampling, gen, contexts);
    for (int64_t b = 0; b < p.B; ++b) {
      // inside its own prompt a row keeps the prompt token
      if (cur_pos >= rows[b].prompt_len) rows[b].tokens[cur_pos] = next.data<int64_t>()[b];
    }
    if (o.logprobs) record_logprobs(rows, logits, prev_pos, o);
    for (int64_t b = 0; b < p.B; ++b) advance_row(rows[b], b, cur_pos, p, o);
    prev_pos = cur_pos;
  }
  return collect(rows, o);
}

std::vector<int64_t> default_stop_tokens(const tokenizers::Tokenizer& tokenizer) {
  // llama2.c's run.c: "the BOS (=1) token delimits sequences", so its models end a story there.
  if (tokenizer.name() == "llama2c" && tokenizer.bos_id()) return {*tokenizer.bos_id()};
  if (tokenizer.eos_id()) return {*tokenizer.eos_id()};
  return {};
}

namespace {

// The text of tokens following token prev (-1: none), piece by piece.
std::string decode_after(const tokenizers::Tokenizer& tok, int64_t prev,
                         std::span<const int64_t> ids, std::vector<std::string>* pieces) {
  std::string text;
  for (const int64_t id : ids) {
    std::string piece = tok.decode_piece(static_cast<int32_t>(prev), static_cast<int32_t>(id));
    text += piece;
    if (pieces != nullptr) pieces->push_back(std::move(piece));
    prev = id;
  }
  return text;
}

}  // namespace

std::vector<Completion> text_completion(models::CausalLM& model,
                                        const tokenizers::Tokenizer& tokenizer,
                                        const std::vector<std::string>& prompts,
                                        GenerateOptions options, models::KVCache* cache) {
  std::vector<std::vector<int64_t>> prompt_tokens;
  for (const std::string& text : prompts) {
    const std::vector<int32_t> ids = tokenizer.encode(text);
    prompt_tokens.emplace_back(ids.begin(), ids.end());
    if (prompt_tokens.back().empty() && tokenizer.bos_id()) {
      prompt_tokens.back().push_back(*tokenizer.bos_id());
    }
  }
  if (options.stop_tokens.empty()) options.stop_tokens = default_stop_tokens(tokenizer);
  // Stop strings are matched in the text that follows each row's prompt.
  if (!options.stop.empty() && !options.decode) {
    options.decode = [&](int64_t row, std::span<const int64_t> generated) {
      return decode_after(tokenizer, prompt_tokens[row].back(), generated, nullptr);
    };
  }
  const GenerationResult res = generate(model, prompt_tokens, options, cache);
  std::vector<Completion> out;
  for (size_t b = 0; b < prompts.size(); ++b) {
    Completion c;
    c.tokens = res.tokens[b];
    const int64_t prev = options.echo ? -1 : prompt_tokens[b].back();
    c.generation = decode_after(tokenizer, prev, c.tokens, &c.pieces);
    // with echo, stop strings are looked for after the prompt's text only
    const size_t from =
        options.echo ? decode_after(tokenizer, -1, prompt_tokens[b], nullptr).size() : 0;
    for (const std::string& s : options.stop) {
      const size_t at = s.empty() ? std::string::npos : c.generation.find(s, from);
      if (at != std::string::npos) c.generation.resize(at);
    }
    if (options.logprobs) c.logprobs = res.logprobs[b];
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace nabla::generation
