// Samplers against a naive reference written as Meta's / Hugging Face's code reads (full
// probability vectors, masks, renormalisation), plus the seeded draws and error paths.
#include "nabla/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/ops/creation.h"

namespace nabla::generation {
namespace {

using ::testing::HasSubstr;

// The full probability vector [V] the sampler should draw from: softmax(logits / T); top-k
// (tokens below the k-th largest masked); min-p (p < min_p * max p masked); top-p as Meta's
// sample_top_p (sort descending, mask cumsum - p > top_p); renormalised after each mask.
std::vector<double> naive_distribution(const std::vector<float>& logits, const SamplingOptions& o) {
  const size_t V = logits.size();
  std::vector<double> p(V);
  double mx = -INFINITY;
  for (const float x : logits) mx = std::max(mx, static_cast<double>(x));
  for (size_t i = 0; i < V; ++i) p[i] = std::exp((logits[i] - mx) / o.temperature);
  // (double here; the sampler's float exp is within 1e-6 relative)
  auto renorm = [&] {
    const double s = std::accumulate(p.begin(), p.end(), 0.0);
    for (double& x : p) x /= s;
  };
  renorm();
  std::vector<size_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
  if (o.top_k > 0) {
    for (size_t r = static_cast<size_t>(o.top_k); r < V; ++r) p[order[r]] = 0.0;
    renorm();
  }
  if (o.min_p > 0) {
    const double floor = o.min_p * p[order[0]];
    for (double& x : p) x = x < floor ? 0.0 : x;
    renorm();
  }
  if (o.top_p < 1.0) {
    double cum = 0.0;
    std::vector<bool> mask(V);
    for (const size_t i : order) {
      cum += p[i];
      mask[i] = cum - p[i] > o.top_p;
    }
    for (size_t i = 0; i < V; ++i) p[i] = mask[i] ? 0.0 : p[i];
    renorm();
  }
  return p;
}

std::vector<float> random_logits(int64_t V, uint64_t seed, double scale) {
  Generator gen(seed);
  const Tensor t = randn({V}, {}, &gen).mul_(scale);
  return {t.data<float>(), t.data<float>() + V};
}

void expect_matches_naive(const std::vector<float>& logits, const SamplingOptions& o) {
  const std::vector<double> ref = naive_distribution(logits, o);
  const std::vector<TokenProb> dist = sampling_distribution(logits, o);
  std::vector<double> got(logits.size(), 0.0);
  for (size_t i = 0; i < dist.size(); ++i) {
    got[dist[i].token] = dist[i].prob;
    if (i > 0) {
      EXPECT_GE(dist[i - 1].prob, dist[i].prob) << "not sorted at " << i;
    }
  }
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_NEAR(got[i], ref[i], 1e-6 * ref[i] + 1e-12) << "token " << i << " T=" << o.temperature
                                       << " top_p=" << o.top_p << " top_k=" << o.top_k
                                       << " min_p=" << o.min_p;
  }
}

TEST(Sampler, DistributionMatchesNaiveReference) {
  for (const int64_t V : {1, 2, 37, 1001}) {
    for (const double scale : {0.5, 3.0}) {
      const std::vector<float> logits = random_logits(V, 100 + V, scale);
      expect_matches_naive(logits, {.temperature = 1.0, .top_p = 1.0});
      expect_matches_naive(logits, {.temperature = 0.6, .top_p = 0.9});
      expect_matches_naive(logits, {.temperature = 1.3, .top_p = 0.5});
      expect_matches_naive(logits, {.temperature = 0.8, .top_p = 1.0, .top_k = 5});
      expect_matches_naive(logits, {.temperature = 0.8, .top_p = 0.95, .top_k = 20});
      expect_matches_naive(logits, {.temperature = 1.0, .top_p = 1.0, .min_p = 0.05});
      expect_matches_naive(logits, {.temperature = 0.7, .top_p = 0.8, .top_k = 50, .min_p = 0.1});
    }
  }
}

TEST(Sampler, TopPKeepsTokensUntilMassExceedsP) {
  // probs 0.5, 0.3, 0.15, 0.05: Meta keeps a token while the mass before it is <= p.
  const std::vector<float> logits = {std::log(0.15f), std::log(0.5f), std::log(0.05f),
                                     std::log(0.3f)};
  const std::vector<TokenProb> d =
      sampling_distribution(logits, {.temperature = 1.0, .top_p = 0.7});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].token, 1);
  EXPECT_EQ(d[1].token, 3);
  EXPECT_NEAR(d[0].prob, 0.5 / 0.8, 1e-6);
  const std::vector<TokenProb> all =
      sampling_distribution(logits, {.temperature = 1.0, .top_p = 0.81});
  EXPECT_EQ(all.size(), 3u);
}

TEST(Sampler, SampleFromIsInverseCdf) {
  const std::vector<TokenProb> d = {{7, 0.5}, {2, 0.3}, {9, 0.2}};
  EXPECT_EQ(sample_from(d, 0.0), 7);
  EXPECT_EQ(sample_from(d, 0.49), 7);
  EXPECT_EQ(sample_from(d, 0.5), 2);
  EXPECT_EQ(sample_from(d, 0.79), 2);
  EXPECT_EQ(sample_from(d, 0.81), 9);
  EXPECT_EQ(sample_from(d, 0.9999999), 9);
}

TEST(Sampler, ArgmaxTakesLowestIdOnTies) {
  EXPECT_EQ(argmax(std::vector<float>{1, 3, 3, 2}), 1);
  EXPECT_EQ(argmax(std::vector<float>{-5}), 0);
  const Tensor logits = tensor({{0.0, 2.0, 1.0}, {4.0, 4.0, -1.0}});
  Generator gen(1);
  const Tensor next = sample(logits, {.temperature = 0.0}, gen);
  EXPECT_EQ(next.dtype(), DType::I64);
  EXPECT_EQ(next.to_vector(), (std::vector<double>{1, 0}));
  EXPECT_EQ(gen.offset(), 0u);  // greedy draws nothing
}

TEST(Sampler, SeededDrawsAreReproducibleAndFollowTheDistribution) {
  // probs 0.1, 0.2, 0.3, 0.4 in each of 4 rows; 5000 steps give 20000 draws.
  const float l[4] = {std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
  Tensor logits = empty({4, 4});
  for (int64_t i = 0; i < 16; ++i) logits.data<float>()[i] = l[i % 4];
  const SamplingOptions o{.temperature = 1.0, .top_p = 1.0};
  Generator g1(42), g2(42), g3(43);
  std::vector<int> counts(4, 0);
  bool differs = false;
  for (int step = 0; step < 5000; ++step) {
    const Tensor a = sample(logits, o, g1), b = sample(logits, o, g2), c = sample(logits, o, g3);
    ASSERT_EQ(a.to_vector(), b.to_vector());
    differs = differs || a.to_vector() != c.to_vector();
    for (const double t : a.to_vector()) ++counts[static_cast<size_t>(t)];
  }
  EXPECT_TRUE(differs);
  for (int i = 0; i < 4; ++i) {
    // binomial std of a frequency over 20000 draws is <= 0.0035; 0.015 is > 4 sigma
    EXPECT_NEAR(counts[i] / 20000.0, 0.1 * (i + 1), 0.015) << "token " << i;
  }
  EXPECT_EQ(g1.offset(), 20000u);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f};
  const std::vector<int64_t> context = {0, 1, 0, 1};  // repeats count once
  apply_repetition_penalty(logits, context, 2.0);
  EXPECT_EQ(logits, (std::vector<float>{1.0f, -2.0f, 0.5f, 3.0f}));
  // In a sampling step: token 3 (logit 3) penalised to 1.5 loses to token 0 (4 -> kept).
  const Tensor batch = tensor({{4.0, 0.0, 0.0, 3.0}});
  Generator gen(0);
  EXPECT_EQ(sample(batch, {.temperature = 0.0, .repetition_penalty = 1.0}, gen, {{0}}).item(), 0);
  const Tensor p = sample(batch, {.temperature = 0.0, .repetition_penalty = 3.0}, gen, {{0}});
  EXPECT_EQ(p.item(), 3);  // 4 / 3 < 3
  std::vector<float> bad = {1.0f};
  EXPECT_THAT([&] { apply_repetition_penalty(bad, std::vector<int64_t>{5}, 1.5); },
              ::testing::ThrowsMessage<Error>(HasSubstr("outside the vocabulary")));
}

TEST(Sampler, BadOptionsAndInputsThrow) {
  const std::vector<float> l = {0.0f, 1.0f};
  auto throws = [&](SamplingOptions o, const char* what) {
    EXPECT_THAT([&] { sampling_distribution(l, o); },
                ::testing::ThrowsMessage<Error>(HasSubstr(what)));
  };
  throws({.temperature = -1.0}, "temperature");
  throws({.temperature = NAN}, "temperature");
  throws({.top_p = 0.0}, "top_p");
  throws({.top_p = 1.5}, "top_p");
  throws({.top_k = -1}, "top_k");
  throws({.min_p = 2.0}, "min_p");
  throws({.repetition_penalty = 0.0}, "repetition_penalty");
  throws({.temperature = 0.0}, "greedy");
  Generator gen(0);
  EXPECT_THROW(sample(zeros({3}), {}, gen), ShapeError);
  EXPECT_THROW(sample(zeros({1, 3}, kFloat64), {}, gen), DTypeError);
  EXPECT_THAT([&] { sample(zeros({2, 3}), {.repetition_penalty = 1.2}, gen, {{1}}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("contexts")));
  EXPECT_THAT([&] { sampling_distribution(std::vector<float>{NAN, NAN}, {}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("finite")));
}

}  // namespace
}  // namespace nabla::generation
