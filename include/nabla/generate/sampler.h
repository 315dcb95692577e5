// Next-token samplers over logits: greedy (temperature 0), temperature, top-k, min-p, top-p
// (Meta's sample_top_p) and the CTRL repetition penalty, with random draws from a counter-based
// Generator so that a seed fixes the result regardless of threads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "nabla/core/rng.h"
#include "nabla/core/tensor.h"

namespace nabla::generation {

/// How the next token is chosen from a row of logits. The steps run in this order (Hugging
/// Face's): repetition penalty on the logits; then temperature 0 takes the argmax (lowest id
/// on ties); otherwise softmax(logits / temperature), keep the top_k most likely (0: all),
/// keep those with p >= min_p * max p, keep the smallest prefix of the rest sorted by
/// descending p whose mass reaches top_p (renormalised first; Meta's sample_top_p), and draw
/// from what is left, renormalised. With top_k 0 and min_p 0 this is exactly Meta's
/// llama generation.py sampling.
struct SamplingOptions {
  double temperature = 0.6;         ///< >= 0; 0 is greedy
  double top_p = 0.9;               ///< in (0, 1]; 1 keeps all
  int64_t top_k = 0;                ///< >= 0; 0 keeps all
  double min_p = 0.0;               ///< in [0, 1]
  double repetition_penalty = 1.0;  ///< > 0; 1 is none (CTRL, Keskar et al. 2019)
};

/// Throws nabla::Error naming the option when a value is out of its range.
void validate(const SamplingOptions& options);

/// A token and its probability in a sampling distribution.
struct TokenProb {
  int64_t token;
  double prob;
};

/// The distribution that sample() draws from for one row of logits (temperature > 0): the kept
/// tokens by descending probability (lower id first on ties), probabilities summing to 1.
std::vector<TokenProb> sampling_distribution(std::span<const float> logits,
                                             const SamplingOptions& options);

/// The token at which the cumulative probability of dist (in its order) first exceeds u * 1
/// (u in [0, 1)): inverse-CDF sampling, as torch.multinomial with one sample.
int64_t sample_from(std::span<const TokenProb> dist, double u);

/// Index of the largest logit (the lowest on ties), as torch.argmax.
int64_t argmax(std::span<const float> logits);

/// CTRL's penalty on every distinct token of context: a positive logit is divided by penalty,
/// a negative one multiplied (Hugging Face's RepetitionPenaltyLogitsProcessor). Ids outside
/// the vocabulary throw.
void apply_repetition_penalty(std::span<float> logits, std::span<const int64_t> context,
                              double penalty);

/// One sampling step for a batch: logits [B, V] (f32) -> next tokens [B] (int64). Row b draws
/// u from Philox counter gen.advance(B) + b, so a seeded Generator reproduces the result.
/// contexts: the tokens seen so far by each row, for the repetition penalty (may be empty when
/// the penalty is 1).
Tensor sample(const Tensor& logits, const SamplingOptions& options, Generator& gen,
              const std::vector<std::vector<int64_t>>& contexts = {});

}  // namespace nabla::generation
