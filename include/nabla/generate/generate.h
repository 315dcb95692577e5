// Batched generation for any models::CausalLM with one preallocated KV cache, with the
// semantics of Meta's llama/generation.py (Llama.generate / text_completion), plus top-k,
// min-p, repetition penalty, several stop tokens, stop strings and a streaming callback.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nabla/generate/sampler.h"
#include "nabla/models/causal_lm.h"
#include "nabla/tokenizers/tokenizer.h"

namespace nabla::generation {

/// Options of generate(). Defaults are Meta's (temperature 0.6, top_p 0.9).
struct GenerateOptions {
  /// Tokens to produce per row; -1: max_seq_len - 1 (Meta's text_completion default).
  int64_t max_gen_len = -1;
  double temperature = 0.6;  ///< 0: greedy
  double top_p = 0.9;
  int64_t top_k = 0;  ///< 0: off
  double min_p = 0.0;
  double repetition_penalty = 1.0;
  /// Return the log-probability (log-softmax of the raw logits, before any sampling option) of
  /// each returned token; a row's first position has none and gets 0, as in Meta's code.
  bool logprobs = false;
  /// Return each row's prompt before its generated tokens.
  bool echo = false;
  /// Seed of the sampler's Philox stream; unset draws one from the default generator, so
  /// nabla::manual_seed makes runs reproducible too.
  std::optional<uint64_t> seed{};
  /// A row ends at the first generated token in stop_tokens, which is not returned (Meta's
  /// EOS; llama2.c's stories models end with BOS = 1). Tokens of the prompt never stop a row.
  std::vector<int64_t> stop_tokens{};
  /// A row ends after the generated token whose text completes one of these strings; that
  /// token is returned (text_completion cuts the text before the string). Needs decode.
  std::vector<std::string> stop{};
  /// The text of row's generated tokens so far (for stop strings).
  std::function<std::string(int64_t row, std::span<const int64_t> generated)> decode{};
  /// Called with (row, token) for every token that will be returned, as soon as it is chosen
  /// (prompt tokens are not streamed).
  std::function<void(int64_t row, int64_t token)> on_token{};
  /// Limits checked as Meta checks its model's: more prompts than max_batch_size, or a prompt
  /// longer than max_seq_len, is an error. 0: the cache's (when one is given), else no batch
  /// limit and the model's max_seq_len.
  int64_t max_batch_size = 0;
  int64_t max_seq_len = 0;

  SamplingOptions sampling() const {
    return {temperature, top_p, top_k, min_p, repetition_penalty};
  }
};

/// Generated tokens (and log-probabilities when asked) of each row.
struct GenerationResult {
  std::vector<std::vector<int64_t>> tokens;
  std::vector<std::vector<float>> logprobs;  ///< empty unless options.logprobs
};

/// Generates continuations of prompt_tokens (one row each, non-empty, ids in [0, vocab)) in
/// no-grad mode: total_len = min(max_seq_len, max_gen_len + longest prompt); the common
/// prefix of the shortest prompt's length is run in one forward pass, then one position per
/// step for every row, where a row still inside its own prompt keeps the prompt token. A row
/// ends at a stop token, a stop string or max_gen_len tokens; generation ends when all have.
/// cache: reused when given (its max_batch/max_seq bound the batch and length), else one of
/// [B, total_len] is made by model.make_cache. The model's train/eval mode is left as it is
/// (call model.eval() for no dropout; load_causal_lm does). Throws nabla::Error on bad input.
GenerationResult generate(models::CausalLM& model,
                          const std::vector<std::vector<int64_t>>& prompt_tokens,
                          const GenerateOptions& options, models::KVCache* cache = nullptr);

/// Meta's CompletionPrediction.
struct Completion {
  std::string generation;           ///< the text after the prompt (the prompt too with echo)
  std::vector<int64_t> tokens;      ///< the ids behind it
  std::vector<std::string> pieces;  ///< each token's text
  std::vector<float> logprobs;      ///< when options.logprobs
};

/// Stop tokens for a tokenizer's models: llama2.c's (BOS, where run.c stops) or the EOS id.
std::vector<int64_t> default_stop_tokens(const tokenizers::Tokenizer& tokenizer);

/// Encodes each prompt (with BOS where the tokenizer adds one; an empty encoding gets the BOS
/// id when there is one), generates and decodes after the prompt. Empty options.stop_tokens
/// means default_stop_tokens(tokenizer); stop strings are cut from the text.
std::vector<Completion> text_completion(models::CausalLM& model,
                                        const tokenizers::Tokenizer& tokenizer,
                                        const std::vector<std::string>& prompts,
                                        GenerateOptions options,
                                        models::KVCache* cache = nullptr);

}  // namespace nabla::generation
