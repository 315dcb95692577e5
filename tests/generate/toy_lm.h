// A tiny models::CausalLM for generation tests: the hidden state at position t is
// sum_{s<=t} decay^(t-s) E[tok_s] + P[t], logits = W h. It depends on every earlier token and
// on the position, keeps its "keys" (the embeddings) in the KVCache, and records each
// forward's (start_pos, T), so tests see both cache bugs and how the engine calls the model.
#pragma once

#include <cmath>
#include <utility>
#include <vector>

#include "nabla/core/rng.h"
#include "nabla/models/causal_lm.h"
#include "nabla/ops/creation.h"

namespace nabla::generation::testing {

class ToyLM : public models::CausalLM {
 public:
  ToyLM(int64_t vocab, int64_t dim, int64_t max_seq, uint64_t seed = 0)
      : V_(vocab), D_(dim), max_seq_(max_seq) {
    Generator gen(seed);
    E_ = register_buffer("E", randn({V_, D_}, {}, &gen));
    P_ = register_buffer("P", randn({max_seq_, D_}, {}, &gen).mul_(0.5));
    W_ = register_buffer("W", randn({V_, D_}, {}, &gen).mul_(2.0));
  }

  using CausalLM::forward;
  // tokens [B, T] int64 -> logits [B, T, V]
  Tensor forward(const Tensor& tokens, int64_t start_pos, models::KVCache* cache) override {
    calls.emplace_back(start_pos, tokens.size(1));
    const int64_t B = tokens.size(0), T = tokens.size(1);
    NABLA_CHECK(start_pos + T <= max_seq_, "ToyLM: positions past max_seq_len");
    NABLA_CHECK(cache == nullptr || (B <= cache->max_batch && start_pos + T <= cache->max_seq),
                "ToyLM: cache too small");
    NABLA_CHECK(cache != nullptr || start_pos == 0, "ToyLM: start_pos without a cache");
    const Tensor tok = tokens.contiguous();
    Tensor logits = zeros({B, T, V_});
    std::vector<float> own(static_cast<size_t>(T * D_));  // embeddings when there is no cache
    for (int64_t b = 0; b < B; ++b) {
      float* keys = cache ? cache->k[0].data<float>() + b * cache->max_seq * D_ : own.data();
      for (int64_t t = 0; t < T; ++t) {
        const int64_t id = tok.data<int64_t>()[b * T + t];
        NABLA_CHECK(id >= 0 && id < V_, "ToyLM: token id ", id, " out of range");
        std::copy_n(E_.data<float>() + id * D_, D_, keys + (start_pos + t) * D_);
      }
      for (int64_t t = 0; t < T; ++t) {
        const int64_t pos = start_pos + t;
        std::vector<double> h(P_.data<float>() + pos * D_, P_.data<float>() + (pos + 1) * D_);
        for (int64_t s = 0; s <= pos; ++s) {
          const double w = std::pow(0.8, static_cast<double>(pos - s));
          for (int64_t d = 0; d < D_; ++d) h[d] += w * keys[s * D_ + d];
        }
        float* out = logits.data<float>() + (b * T + t) * V_;
        for (int64_t v = 0; v < V_; ++v) {
          double acc = 0.0;
          for (int64_t d = 0; d < D_; ++d) acc += W_.data<float>()[v * D_ + d] * h[d];
          out[v] = static_cast<float>(acc);
        }
      }
    }
    return logits;
  }

  models::KVCache make_cache(int64_t max_batch, int64_t max_seq) const override {
    models::KVCache c;
    c.k.push_back(zeros({max_batch, 1, max_seq, D_}));
    c.v.push_back(zeros({max_batch, 1, max_seq, D_}));
    c.max_batch = max_batch;
    c.max_seq = max_seq;
    return c;
  }
  int64_t vocab_size() const override { return V_; }
  int64_t max_seq_len() const override { return max_seq_; }

  std::vector<std::pair<int64_t, int64_t>> calls;  // (start_pos, T) of each forward

 private:
  int64_t V_, D_, max_seq_;
  Tensor E_, P_, W_;
};

}  // namespace nabla::generation::testing
