// Samplers: one row of logits at a time, in double precision after the logits, so that the
// kept set and the draw do not depend on summation order or thread count.
#include "nabla/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "nabla/core/error.h"
#include "nabla/ops/creation.h"

namespace nabla::generation {

void validate(const SamplingOptions& o) {
  NABLA_CHECK(std::isfinite(o.temperature) && o.temperature >= 0.0,
              "sampling: temperature must be >= 0 (0 is greedy), got ", o.temperature);
  NABLA_CHECK(o.top_p > 0.0 && o.top_p <= 1.0, "sampling: top_p must be in (0, 1], got ",
              o.top_p);
  NABLA_CHECK(o.top_k >= 0, "sampling: top_k must be >= 0 (0 keeps all tokens), got ", o.top_k);
  NABLA_CHECK(o.min_p >= 0.0 && o.min_p <= 1.0, "sampling: min_p must be in [0, 1], got ",
              o.min_p);
  NABLA_CHECK(std::isfinite(o.repetition_penalty) && o.repetition_penalty > 0.0,
              "sampling: repetition_penalty must be > 0 (1 is none), got ", o.repetition_penalty);
}

namespace {

// Descending probability, lower id first on ties: a total order, so sorting is deterministic.
// A lambda, so that std::sort inlines it (a function pointer cost 20% of a top-p step).
constexpr auto more_likely = [](const TokenProb& a, const TokenProb& b) {
  return a.prob > b.prob || (a.prob == b.prob && a.token < b.token);
};

// softmax(logits / temperature); tokens with p below cutoff are left out. exp in float (as
// torch.softmax on float32 logits; 3x faster than double exp, which dominated a 32000-token
// step), sums in double.
std::vector<TokenProb> softmax_candidates(std::span<const float> logits, double temperature,
                                          double cutoff) {
  const auto V = static_cast<int64_t>(logits.size());
  const float* x = logits.data();
  // A plain loop: an `omp simd` max reduction starts from -FLT_MAX under clang, which would
  // report all-NaN logits as having a finite maximum (and the loop costs ~10 us).
  float mx = -INFINITY;
  for (int64_t i = 0; i < V; ++i) mx = x[i] > mx ? x[i] : mx;
  NABLA_CHECK(std::isfinite(mx), "sampling: the logits have no finite maximum (", mx, ")");
  std::vector<float> e(static_cast<size_t>(V));
  const auto inv_t = static_cast<float>(1.0 / temperature);
  for (int64_t i = 0; i < V; ++i) e[i] = std::exp((x[i] - mx) * inv_t);
  double sum = 0.0;  // a fixed vectorised order: the same result on every run
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < V; ++i) sum += e[i];
  const double inv_sum = 1.0 / sum, floor = cutoff * sum;
  std::vector<TokenProb> cand;
  cand.reserve(cutoff > 0.0 ? 256 : static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i) {
    if (e[i] >= floor) cand.push_back({i, e[i] * inv_sum});
  }
  return cand;
}

}  // namespace

std::vector<TokenProb> sampling_distribution(std::span<const float> logits,
                                             const SamplingOptions& o) {
  validate(o);
  NABLA_CHECK(o.temperature > 0.0, "sampling_distribution: temperature 0 is greedy (argmax)");
  NABLA_CHECK(!logits.empty(), "sampling_distribution: empty logits");
  const auto V = static_cast<int64_t>(logits.size());
  // llama2.c's shortcut: with top-p alone, a token with p < (1 - top_p) / (V - 1) cannot be in
  // the nucleus (the tokens from it on hold less than 1 - top_p), so it need not be sorted.
  const bool top_p_only = o.top_k == 0 && o.min_p == 0.0 && o.top_p < 1.0 && V > 1;
  const double cutoff = top_p_only ? (1.0 - o.top_p) / static_cast<double>(V - 1) : 0.0;
  std::vector<TokenProb> cand = softmax_candidates(logits, o.temperature, cutoff);
  if (cand.empty()) cand = softmax_candidates(logits, o.temperature, 0.0);
  if (o.top_k > 0 && o.top_k < static_cast<int64_t>(cand.size())) {
    std::nth_element(cand.begin(), cand.begin() + o.top_k, cand.end(), more_likely);
    cand.resize(static_cast<size_t>(o.top_k));
  }
  std::sort(cand.begin(), cand.end(), more_likely);
  if (o.min_p > 0.0) {
    const double floor = o.min_p * cand.front().prob;
    cand.erase(std::find_if(cand.begin(), cand.end(),
                            [&](const TokenProb& t) { return t.prob < floor; }),
               cand.end());
  }
  double mass = 1.0;  // of the candidates in the full softmax; the cutoff keeps it at 1
  if (!top_p_only) {
    mass = 0.0;
    for (const TokenProb& t : cand) mass += t.prob;
  }
  if (o.top_p < 1.0) {
    // Meta: mask = cumsum - p > top_p, i.e. keep a token while the mass before it <= top_p.
    double before = 0.0;
    size_t n = 0;
    while (n < cand.size() && before <= o.top_p * mass) before += cand[n++].prob;
    cand.resize(n);
  }
  double total = 0.0;
  for (const TokenProb& t : cand) total += t.prob;
  for (TokenProb& t : cand) t.prob /= total;
  return cand;
}

int64_t sample_from(std::span<const TokenProb> dist, double u) {
  NABLA_CHECK(!dist.empty(), "sample_from: empty distribution");
  double cum = 0.0;
  for (const TokenProb& t : dist) {
    cum += t.prob;
    if (u < cum) return t.token;
  }
  return dist.back().token;  // u within rounding of 1
}

int64_t argmax(std::span<const float> logits) {
  NABLA_CHECK(!logits.empty(), "argmax: empty logits");
  int64_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int64_t>(i);
  }
  return best;
}

void apply_repetition_penalty(std::span<float> logits, std::span<const int64_t> context,
                              double penalty) {
  if (penalty == 1.0) return;
  const auto V = static_cast<int64_t>(logits.size());
  std::unordered_set<int64_t> seen;
  for (const int64_t id : context) {
    NABLA_CHECK(id >= 0 && id < V, "repetition penalty: token id ", id,
                " is outside the vocabulary [0, ", V, ")");
    if (!seen.insert(id).second) continue;
    const double x = logits[id];
    logits[id] = static_cast<float>(x > 0 ? x / penalty : x * penalty);
  }
}

Tensor sample(const Tensor& logits, const SamplingOptions& o, Generator& gen,
              const std::vector<std::vector<int64_t>>& contexts) {
  validate(o);
  NABLA_CHECK_SHAPE(logits.dim() == 2, "sample: logits must be [B, V], got ", logits.describe());
  NABLA_CHECK_DTYPE(logits.dtype() == DType::F32, "sample: logits must be float32, got ",
                    logits.describe());
  const int64_t B = logits.size(0), V = logits.size(1);
  const bool penalize = o.repetition_penalty != 1.0;
  NABLA_CHECK(!penalize || static_cast<int64_t>(contexts.size()) == B, "sample: ",
              contexts.size(), " contexts for ", B, " rows (the repetition penalty needs one "
              "per row)");
  const Tensor x = logits.contiguous();
  Tensor out = empty({B}, kInt64);
  const uint64_t counter = o.temperature > 0.0 ? gen.advance(static_cast<uint64_t>(B)) : 0;
  std::vector<float> row(static_cast<size_t>(V));
  for (int64_t b = 0; b < B; ++b) {
    const float* src = x.data<float>() + b * V;
    std::copy(src, src + V, row.begin());
    if (penalize) apply_repetition_penalty(row, contexts[b], o.repetition_penalty);
    if (o.temperature == 0.0) {
      out.data<int64_t>()[b] = argmax(row);
      continue;
    }
    const std::array<uint32_t, 4> w = philox4x32(gen.seed(), counter + static_cast<uint64_t>(b));
    const double u = uniform01_double(w[0], w[1]);
    out.data<int64_t>()[b] = sample_from(sampling_distribution(row, o), u);
  }
  return out;
}

}  // namespace nabla::generation
